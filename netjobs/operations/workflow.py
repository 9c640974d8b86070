"""The modality workflow as one job (dcm4che's ``modality`` tool): MPPS IN PROGRESS, an
optional Key Object Selection document, C-STORE of the study, MPPS COMPLETED (DISCONTINUED
when nothing could be stored), then Storage Commitment of what was stored.

Each step is the matching job kind's own run function on this job, so its items, counters
and association records land here; ``result["steps"]`` says how each step went, live."""

from __future__ import annotations

import logging
import shlex
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django import forms
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from netjobs.jobs.base import CommandLine, JobContext, JobFailed, JobKind, JobOutcome
from netjobs.jobs.forms import JobForm, local_ae_field, remote_ae_field
from netjobs.models import ApplicationEntity, ItemOutcome, JobStatus, LogLevel
from netjobs.operations.commitment import STGCMT_KIND, CommitmentParams, ReportOn
from netjobs.operations.common import ae_label, calling_ae_title, local_ae_exists, remote_ae_exists
from netjobs.operations.ian.nservice import dcm4che_connection
from netjobs.operations.kos import DOCUMENT_TITLES, key_object_selection, write_part10
from netjobs.operations.mpps import MPPS_KIND, MppsAction, MppsParams
from netjobs.operations.store.kind import STORE_KIND
from netjobs.operations.store.run import StoreParams

logger = logging.getLogger(__name__)


class WorkflowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae: int = Field(description="ID of the remote AE (MPPS, Storage and Storage Commitment SCP)")
    calling_ae: int | None = Field(default=None, description="ID of the local AE to call from")
    study: int = Field(description="ID of the archive study the modality performed")
    kos_title: str = Field(default="", description="Code of a Key Object Selection document "
                                                   "title to add (113000 Of Interest…); empty: "
                                                   "none")
    kos_description: str = Field(default="", max_length=1024)
    report_on: ReportOn = Field(default=ReportOn.EITHER)
    timeout: float = Field(default=60.0, ge=1.0, le=3600.0,
                           description="Seconds to wait for the storage commitment report")

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)

    @field_validator("study")
    @classmethod
    def _study_archived(cls, value: int) -> int:
        if not Instance.objects.filter(series__study_id=value).exists():
            raise ValueError(f"there is no archive study {value} with instances")
        return value

    @field_validator("kos_title")
    @classmethod
    def _known_title(cls, value: str) -> str:
        if value and value not in DOCUMENT_TITLES:
            raise ValueError(f"unknown document title {value!r}; one of "
                             f"{', '.join(DOCUMENT_TITLES)}")
        return value


class Steps:
    """The step list in the job's result, written as each step starts and ends."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.rows: list[dict[str, Any]] = []

    def _save(self) -> None:
        self.ctx.update_result(steps=self.rows)

    def run(self, name: str, action: Callable[[], JobOutcome]) -> JobOutcome:
        self.rows.append({"step": name, "status": JobStatus.RUNNING.value, "detail": ""})
        self._save()
        try:
            outcome = action()
        except JobFailed as exc:
            outcome = JobOutcome(JobStatus.FAILED, {}, str(exc))
        except Exception as exc:  # one step's crash must not leave the others undone
            logger.exception("job %s: workflow step %r", self.ctx.job.pk, name)
            outcome = JobOutcome(JobStatus.FAILED, {}, f"{type(exc).__name__}: {exc}")
        self.rows[-1].update(status=outcome.status.value, detail=outcome.error or "done")
        self._save()
        detail = f" — {outcome.error}" if outcome.error else ""
        level = LogLevel.INFO if outcome.status == JobStatus.SUCCEEDED else LogLevel.WARNING
        self.ctx.log(f"{name}: {outcome.status.label}{detail}", level)
        return outcome

    def skip(self, name: str, why: str) -> None:
        self.rows.append({"step": name, "status": ItemOutcome.SKIPPED.value, "detail": why})
        self._save()


def _kos_step(ctx: JobContext, params: WorkflowParams) -> JobOutcome:
    study = Study.objects.select_related("patient").get(pk=params.study)
    instances = list(Instance.objects.filter(series__study=study).select_related("series"))
    document = key_object_selection(study, instances, params.kos_title, params.kos_description)
    with tempfile.TemporaryDirectory() as folder:
        store_file(write_part10(document, Path(folder)), source=InstanceSource.PATH_IMPORT,
                   source_detail="modality workflow", job=ctx.job)
    return JobOutcome(JobStatus.SUCCEEDED, {"kos": str(document.SOPInstanceUID)})


def _stored_uids(ctx: JobContext, study_id: int) -> list[str]:
    sent = set(ctx.job.items.filter(outcome__in=[ItemOutcome.SUCCEEDED, ItemOutcome.WARNING])
               .values_list("sop_instance_uid", flat=True))
    return list(Instance.objects.filter(series__study_id=study_id, sop_instance_uid__in=sent)
                .values_list("sop_instance_uid", flat=True))


def run(ctx: JobContext, params: WorkflowParams) -> JobOutcome:
    steps = Steps(ctx)
    step_uid = str(generate_uid())
    peer = {"ae": params.ae, "calling_ae": params.calling_ae}

    def mpps(action: MppsAction) -> JobOutcome:
        return MPPS_KIND.run(ctx, MppsParams.model_validate(
            {**peer, "study": params.study, "action": action, "mpps_instance_uid": step_uid}))

    def cancelled(created: bool) -> JobOutcome:
        """Stop here; a step already created is DISCONTINUED (PS3.4 F.7.1), even though the
        job is being cancelled: a context that nobody cancels sends it."""
        if created:
            quiet = JobContext(ctx.job)  # not watched: its cancel event stays clear
            steps.run("MPPS N-SET (DISCONTINUED)", lambda: MPPS_KIND.run(
                quiet, MppsParams.model_validate(
                    {**peer, "study": params.study, "action": MppsAction.DISCONTINUE,
                     "mpps_instance_uid": step_uid})))
        return _outcome(steps, JobStatus.CANCELLED, "Cancelled by an operator.", step_uid)

    created = steps.run("MPPS N-CREATE (IN PROGRESS)", lambda: mpps(MppsAction.CREATE))
    if ctx.cancel_requested:
        return cancelled(created.status == JobStatus.SUCCEEDED)
    if created.status != JobStatus.SUCCEEDED:
        for name in ("C-STORE", "MPPS N-SET", "Storage Commitment"):
            steps.skip(name, "the performed procedure step was not created")
        return _outcome(steps, JobStatus.FAILED, "The MPPS SCP did not create the step; "
                                                 "nothing was sent.", step_uid)
    if params.kos_title:
        steps.run("Key Object Selection document", lambda: _kos_step(ctx, params))
    stored = steps.run("C-STORE of the study", lambda: STORE_KIND.run(
        ctx, StoreParams.model_validate({**peer, "studies": [params.study]})))
    if ctx.cancel_requested:
        return cancelled(True)
    uids = _stored_uids(ctx, params.study)
    action = MppsAction.COMPLETE if uids else MppsAction.DISCONTINUE
    ended = steps.run(f"MPPS N-SET ({'COMPLETED' if uids else 'DISCONTINUED'})",
                      lambda: mpps(action))
    if ctx.cancel_requested:
        if ended.status != JobStatus.SUCCEEDED:  # the N-SET did not go: discontinue
            return cancelled(True)
        steps.skip("Storage Commitment", "cancelled")
        return _outcome(steps, JobStatus.CANCELLED, "Cancelled by an operator.", step_uid)
    if not uids:
        steps.skip("Storage Commitment", "nothing was stored")
        return _outcome(steps, JobStatus.FAILED, stored.error or "Nothing was stored.",
                        step_uid)
    steps.run("Storage Commitment", lambda: STGCMT_KIND.run(
        ctx, CommitmentParams.model_validate({**peer, "sop_instance_uids": uids,
                                              "report_on": params.report_on,
                                              "timeout": params.timeout})))
    failed = [row["step"] for row in steps.rows if row["status"] != JobStatus.SUCCEEDED.value]
    if not failed:  # the KOS step counts too
        return _outcome(steps, JobStatus.SUCCEEDED, "", step_uid)
    return _outcome(steps, JobStatus.PARTIAL, "Not every step succeeded: " + ", ".join(failed)
                    + ".", step_uid)


def _outcome(steps: Steps, status: JobStatus, error: str, step_uid: str) -> JobOutcome:
    return JobOutcome(status, {"steps": steps.rows, "mpps_instance_uid": step_uid}, error)


def describe(params: WorkflowParams) -> str:
    return f"Modality workflow for study #{params.study} with {ae_label(params.ae)}"


class WorkflowForm(JobForm):
    ae = remote_ae_field("PACS (MPPS, Storage, Storage Commitment)")
    calling_ae = local_ae_field()
    study = forms.IntegerField(min_value=1, label="Archive study ID")
    kos_title = forms.ChoiceField(
        choices=[("", "No Key Object Selection"),
                 *[(code, f"KOS: {meaning}") for code, meaning in DOCUMENT_TITLES.items()]],
        required=False, label="Key Object Selection")
    report_on = forms.ChoiceField(
        choices=[(r.value, r.value.replace("_", " ")) for r in ReportOn],
        initial=ReportOn.EITHER.value, label="Storage commitment report on")
    timeout = forms.FloatField(min_value=1, max_value=3600, initial=60,
                               help_text="Seconds to wait for the commitment report.")

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"ae": data["ae"].pk,
                "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
                "study": data["study"], "kos_title": data.get("kos_title") or "",
                "report_on": data["report_on"], "timeout": data["timeout"]}


def command_lines(params: WorkflowParams) -> list[CommandLine]:
    remote = ApplicationEntity.objects.get(pk=params.ae)
    calling = calling_ae_title(params.calling_ae)
    folder = Instance.objects.filter(series__study_id=params.study).values_list(
        "file_path", flat=True).first() or ""
    study_folder = (shlex.quote(str(absolute_path(folder).parent.parent)) if folder
                    else "<study folder>")
    lines = []
    if params.kos_title:  # dcm4che's mkkos makes the document first
        lines.append(CommandLine("dcm4che", f"mkkos --title {params.kos_title} -o "
                                            f"{study_folder}/KOS.dcm {study_folder}"))
    lines.append(CommandLine("dcm4che", "modality --mpps-late --stgcmt "
                                        f"{dcm4che_connection(remote, calling)} {study_folder}"))
    return lines


WORKFLOW_KIND: JobKind[WorkflowParams] = JobKind(
    name="workflow",
    label="Modality workflow (MPPS, C-STORE, Storage Commitment)",
    params_schema=WorkflowParams,
    run=run,
    describe=describe,
    form=WorkflowForm,
    command_lines=command_lines,
)
