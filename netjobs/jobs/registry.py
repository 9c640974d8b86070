"""The one place where job kinds are registered.

A later capability (imports, conversions, DICOMDIR builds, HL7 sends…) adds its kind module
and one line to ``_KINDS``.
"""

from __future__ import annotations

from typing import Any

from archive.conversions.jobs.kinds import EXPORT_IMAGES_KIND, SPLIT_KIND, SWAP_KIND
from archive.conversions.jobs.transcode_kind import TRANSCODE_KIND
from archive.deid.jobs.kinds import DEIDENTIFY_KIND, REIDENTIFY_KIND
from archive.imports.kind import IMPORT_KIND
from archive.media.jobs.kinds import COMPACT_KIND, DELETE_KIND, MKMEDIA_KIND, UPDATE_KIND
from archive.objects.jobs.kinds import CREATE_KIND, EDIT_KIND, EXTRACT_KIND
from netjobs.jobs.base import JobKind
from netjobs.operations.commitment import STGCMT_KIND
from netjobs.operations.connectivity import CONNECTIVITY_KIND
from netjobs.operations.dicomweb.kinds import CHECK_KIND, QIDO_KIND, STOW_KIND, WADO_KIND
from netjobs.operations.echo import ECHO_KIND
from netjobs.operations.ian import IAN_KIND
from netjobs.operations.mpps import MPPS_KIND
from netjobs.operations.qr.kinds import FIND_KIND, GET_KIND, MOVE_KIND
from netjobs.operations.store.kind import STORE_KIND
from netjobs.operations.workflow import WORKFLOW_KIND

_KINDS: tuple[JobKind[Any], ...] = (ECHO_KIND, IMPORT_KIND, STORE_KIND, FIND_KIND,
                                       MOVE_KIND, GET_KIND, MPPS_KIND, IAN_KIND, STGCMT_KIND,
                                       CONNECTIVITY_KIND, WORKFLOW_KIND, TRANSCODE_KIND, SPLIT_KIND,
                                       SWAP_KIND, EXPORT_IMAGES_KIND, CREATE_KIND, EXTRACT_KIND,
                                       EDIT_KIND, DEIDENTIFY_KIND, REIDENTIFY_KIND, MKMEDIA_KIND,
                                       UPDATE_KIND, DELETE_KIND, COMPACT_KIND, QIDO_KIND,
                                       WADO_KIND, STOW_KIND, CHECK_KIND)

KINDS: dict[str, JobKind[Any]] = {kind.name: kind for kind in _KINDS}


class UnknownJobKind(KeyError):
    pass


def get_kind(name: str) -> JobKind[Any]:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownJobKind(name) from None


def kind_choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in _KINDS]
