"""The ``find``, ``move`` and ``get`` job kinds."""

from __future__ import annotations

from netjobs.jobs.base import Download, JobKind
from netjobs.models import ApplicationEntity
from netjobs.operations.qr import find, get, move
from netjobs.operations.qr.commands import (
    find_command_lines,
    get_command_lines,
    move_command_lines,
)
from netjobs.operations.qr.forms import FindForm, GetForm, MoveForm
from netjobs.operations.qr.params import FindParams, GetParams, MoveParams
from netjobs.operations.qr.results import render_csv, render_json


def _remote(ae_id: int) -> str:
    remote = ApplicationEntity.objects.filter(pk=ae_id).first()
    return str(remote) if remote else f"AE #{ae_id}"


def describe_find(params: FindParams) -> str:
    level = f" {params.level.value}" if params.level else ""
    keys = ", ".join(f"{key}={value}" for key, value in params.matching_keys.items())
    return f"C-FIND{level} in {params.model.label} on {_remote(params.ae)}" + (
        f": {keys}" if keys else "")


def describe_move(params: MoveParams) -> str:
    return f"C-MOVE of the {params.target()} from {_remote(params.ae)} to {params.destination}"


def describe_get(params: GetParams) -> str:
    return f"C-GET of the {params.target()} from {_remote(params.ae)} into the archive"


FIND_KIND: JobKind[FindParams] = JobKind(
    name="find",
    label="C-FIND",
    params_schema=FindParams,
    run=find.run,
    describe=describe_find,
    form=FindForm,
    command_lines=find_command_lines,
    downloads=(Download("csv", "Matches as CSV", render_csv),
               Download("json", "Matches as DICOM JSON", render_json)),
)

MOVE_KIND: JobKind[MoveParams] = JobKind(
    name="move",
    label="C-MOVE",
    params_schema=MoveParams,
    run=move.run,
    describe=describe_move,
    form=MoveForm,
    command_lines=move_command_lines,
)

GET_KIND: JobKind[GetParams] = JobKind(
    name="get",
    label="C-GET",
    params_schema=GetParams,
    run=get.run,
    describe=describe_get,
    form=GetForm,
    command_lines=get_command_lines,
)
