"""Connectivity check of a remote AE: can the console reach it (C-ECHO), does it know the
console as a C-MOVE destination, which transfer syntaxes it accepts for common SOP classes.
``address``: where remote AEs reach the console; ``checks``: the three checks; ``kind``: the
job kind."""

from netjobs.operations.connectivity.checks import batches, probe_pairs
from netjobs.operations.connectivity.kind import CONNECTIVITY_KIND, ConnectivityParams

__all__ = ["CONNECTIVITY_KIND", "ConnectivityParams", "batches", "probe_pairs"]
