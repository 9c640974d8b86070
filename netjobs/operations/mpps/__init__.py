"""Modality Performed Procedure Step SCU (mppsscu; PS3.4 Annex F): the attribute lists
(``attributes``) and the job kind (``kind``)."""

from netjobs.operations.mpps.attributes import step_end, step_in_progress
from netjobs.operations.mpps.kind import MPPS_KIND, MppsAction, MppsParams

__all__ = ["MPPS_KIND", "MppsAction", "MppsParams", "step_end", "step_in_progress"]
