"""Storage Commitment Push Model SCP (PS3.4 Annex J).

An N-ACTION "Request Storage Commitment" is checked, stored and answered at once. A thread
that the handler starts then checks every referenced instance against the archive and, once
the N-ACTION response is on its way, sends the N-EVENT-REPORT with the result:

* on the request's own association, when the requester took the SCP role of the SOP class
  there (SCP/SCU role selection) and keeps the association open;
* otherwise on a new association to the remote AE configured with the requester's AE
  title, on which the console proposes the SCP role (PS3.4 J.3.3.1.2).

The plain functions (``parse_request``, ``check_references``, ``event_information``) work on
decoded values; ``on_n_action`` adapts the pynetdicom event and never raises.
"""

from netjobs.listeners.commitment.report import on_n_action
from netjobs.listeners.commitment.requests import describe_failure_reason

__all__ = ["describe_failure_reason", "on_n_action"]
