"""The DICOMweb job kinds: ``qido``, ``wado``, ``stow`` and ``dicomweb_check``."""

from __future__ import annotations

from netjobs.jobs.base import Download, JobKind
from netjobs.operations.dicomweb import check, qido, stow, wado
from netjobs.operations.dicomweb.commands import (
    check_command_lines,
    qido_command_lines,
    stow_command_lines,
    wado_command_lines,
)
from netjobs.operations.dicomweb.forms import CheckForm, QidoForm, StowForm, WadoForm
from netjobs.operations.store.kind import items_csv

QIDO_KIND: JobKind[qido.QidoParams] = JobKind(
    name="qido", label="QIDO-RS (search)", params_schema=qido.QidoParams, run=qido.run,
    describe=qido.describe, form=QidoForm, command_lines=qido_command_lines,
    downloads=(Download("csv", "Matches as CSV", qido.render_csv),
               Download("json", "Matches as DICOM JSON", qido.render_json)),
    uses_associations=False)

WADO_KIND: JobKind[wado.WadoParams] = JobKind(
    name="wado", label="WADO-RS (retrieve)", params_schema=wado.WadoParams, run=wado.run,
    describe=wado.describe, form=WadoForm, command_lines=wado_command_lines,
    downloads=(Download("metadata", "Metadata as DICOM JSON", wado.render_metadata,
                        available=lambda job: job.params.get("mode") == wado.WadoMode.METADATA),
               Download("instances.csv", "Instances (CSV)", items_csv,
                        available=lambda job: job.params.get("mode") != wado.WadoMode.METADATA)),
    uses_associations=False)

STOW_KIND: JobKind[stow.StowParams] = JobKind(
    name="stow", label="STOW-RS (send)", params_schema=stow.StowParams, run=stow.run,
    describe=stow.describe, form=StowForm, command_lines=stow_command_lines,
    retry_failed=stow.retry_failed,
    downloads=(Download("instances.csv", "Instances (CSV)", items_csv),),
    uses_associations=False)

CHECK_KIND: JobKind[check.CheckParams] = JobKind(
    name="dicomweb_check", label="DICOMweb check", params_schema=check.CheckParams,
    run=check.run, describe=check.describe, form=CheckForm,
    command_lines=check_command_lines, uses_associations=False)
