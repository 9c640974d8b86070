"""Instance Availability Notification SCU (ianscu; PS3.4 Annex R).

The package also holds what the MPPS and storage commitment kinds share with it: the
archive's view of a study (``archived``) and N-service responses (``nservice``)."""

from netjobs.operations.ian.kind import IAN_KIND, IanParams, availability_notification

__all__ = ["IAN_KIND", "IanParams", "availability_notification"]
