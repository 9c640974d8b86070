"""Storage Commitment Push Model SCU (stgcmtscu; PS3.4 Annex J): the parameters and the
instances they select (``params``), the N-ACTION and the wait for the N-EVENT-REPORT
(``exchange``), and the job kind (``kind``)."""

from netjobs.operations.commitment.exchange import exchange, report_listeners
from netjobs.operations.commitment.kind import STGCMT_KIND
from netjobs.operations.commitment.params import CommitmentParams, ReportOn

__all__ = ["STGCMT_KIND", "CommitmentParams", "ReportOn", "exchange", "report_listeners"]
