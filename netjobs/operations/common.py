"""Parameter pieces shared by the network job kinds."""

from __future__ import annotations

from django.conf import settings

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
