"""Pieces shared by the network job kinds: parameter checks, the AEs they name."""

from __future__ import annotations

from django.conf import settings

from netjobs.jobs.base import JobFailed
from netjobs.models import AEKind, ApplicationEntity


def remote_ae_exists(ae_id: int) -> int:
    if not ApplicationEntity.objects.filter(pk=ae_id, kind=AEKind.REMOTE).exists():
        raise ValueError(f"there is no remote AE with id {ae_id}")
    return ae_id


def local_ae_exists(ae_id: int | None) -> int | None:
    if ae_id is not None and not ApplicationEntity.objects.filter(
        pk=ae_id, kind=AEKind.LOCAL
    ).exists():
        raise ValueError(f"there is no local AE with id {ae_id}")
    return ae_id


def calling_ae_title(local_ae_id: int | None) -> str:
    """The AE title the console calls with: the chosen local AE's, or CONSOLE_AE_TITLE."""
    if local_ae_id is None:
        return str(settings.CONSOLE_AE_TITLE)
    return ApplicationEntity.objects.get(pk=local_ae_id, kind=AEKind.LOCAL).ae_title


def remote_or_fail(ae_id: int) -> ApplicationEntity:
    """The job's remote AE; the job fails if it was deleted after the job was created."""
    remote = ApplicationEntity.objects.filter(pk=ae_id, kind=AEKind.REMOTE).first()
    if remote is None:
        raise JobFailed(f"The remote AE #{ae_id} no longer exists.")
    return remote


def ae_label(ae_id: int) -> str:
    """The AE as a job's description names it, also once it is deleted."""
    remote = ApplicationEntity.objects.filter(pk=ae_id).first()
    return str(remote) if remote else f"AE #{ae_id}"
