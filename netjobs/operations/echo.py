"""C-ECHO (Verification): is the peer there, and does it accept us?"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.dicom.explain import (
    explain_connection_lost,
    explain_context_rejection,
    explain_dimse_timeout,
)
from netjobs.dicom.recorder import AssociationRecorder
from netjobs.dicom.status import DimseStatus, StatusInfo, describe_status
from netjobs.jobs.base import CommandLine, JobContext, JobFailed, JobKind, JobOutcome
from netjobs.jobs.forms import JobForm, local_ae_field, remote_ae_field
from netjobs.models import ApplicationEntity, Association, Job, JobStatus, LogLevel
from netjobs.operations.common import (
    ae_label,
    calling_ae_title,
    local_ae_exists,
    remote_ae_exists,
    remote_or_fail,
)


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae: int = Field(description="ID of the remote AE to verify")
    calling_ae: int | None = Field(
        default=None, description="ID of the local AE to call from (default: CONSOLE_AE_TITLE)"
    )
    repeat: int = Field(
        default=1, ge=1, le=10000, description="C-ECHOs to send on the association (echoscu -r)"
    )
    interval: float = Field(
        default=0.0, ge=0.0, le=60.0, description="Seconds to wait between C-ECHOs"
    )

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)


class VerificationRejected(Exception):
    """The association was accepted but the Verification context was not."""


@dataclass(frozen=True)
class EchoReply:
    status: StatusInfo | None  # None: no response (timeout or abort)
    round_trip_ms: float


@dataclass
class EchoSession:
    association: Association | None = None
    replies: list[EchoReply] = field(default_factory=list)
    stopped_by_cancel: bool = False
    failure: str = ""


def verify(
    remote: ApplicationEntity,
    calling: str,
    *,
    job: Job | None = None,
    repeat: int = 1,
    interval: float = 0.0,
    cancel: threading.Event | None = None,
    on_reply: Callable[[EchoReply], None] | None = None,
) -> EchoSession:
    """C-ECHO ``repeat`` times on one association. Raises AssociationFailed,
    VerificationRejected or TlsSetupFailed when no echo could be sent at all."""
    contexts = [(Verification, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
    session = EchoSession()
    stop = cancel if cancel is not None else threading.Event()
    with requested_association(
        remote=remote, calling_ae_title=calling, contexts=contexts, job=job
    ) as (assoc, recorder):
        session.association = recorder.record
        if not assoc.accepted_contexts:
            rejected = assoc.rejected_contexts[0] if assoc.rejected_contexts else None
            message = explain_context_rejection(
                Verification, contexts[0][1], None if rejected is None else rejected.result
            )
            recorder.record.explanation = message
            raise VerificationRejected(message)
        for index in range(repeat):
            if stop.is_set() or (index and interval and stop.wait(interval)):
                session.stopped_by_cancel = True
                break
            if not assoc.is_established:  # the peer aborted between two echoes
                session.failure = recorder.explanation_so_far() or explain_connection_lost()
                break
            started = time.perf_counter()
            response = assoc.send_c_echo()
            elapsed = time.perf_counter() - started
            if "Status" in response:
                status = describe_status(int(response.Status), "C-ECHO")
                reply = EchoReply(status, elapsed * 1000)
            else:
                reply = EchoReply(None, elapsed * 1000)
            session.replies.append(reply)
            if on_reply is not None:
                on_reply(reply)
            if reply.status is None:
                session.failure = why_no_response(assoc, recorder, elapsed, remote.dimse_timeout)
                break
    return session


def why_no_response(
    assoc: PynetdicomAssociation, recorder: AssociationRecorder, elapsed: float, timeout: float
) -> str:
    """No DIMSE response came: a peer abort, a lost connection, or our DIMSE timeout."""
    if assoc.is_alive():
        assoc.join(timeout=2)  # let the association thread deliver the abort events
    noted = recorder.explanation_so_far()  # the peer's abort, or ours with its reason
    if noted:
        return noted
    if elapsed >= timeout * 0.9:
        reason = explain_dimse_timeout(timeout)
        recorder.note_local_abort(reason)
        return reason
    return explain_connection_lost()


def describe(params: EchoParams) -> str:
    target = ae_label(params.ae)
    times = f" x{params.repeat}" if params.repeat > 1 else ""
    return f"C-ECHO{times} to {target}"


def run(ctx: JobContext, params: EchoParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    ctx.set_progress(0, params.repeat)
    ctx.log(f"Calling {remote.ae_title} at {remote.host}:{remote.port} as {calling}.")

    def on_reply(reply: EchoReply) -> None:
        ok = reply.status is not None and reply.status.code == DimseStatus.SUCCESS
        ctx.add_counters(**{"succeeded" if ok else "failed": 1})
        ctx.set_progress(ctx.job.progress_done + 1)
        if not ok:
            what = str(reply.status) if reply.status else "no response"
            ctx.log(f"C-ECHO {ctx.job.progress_done}: {what}.", LogLevel.WARNING)

    try:
        session = verify(
            remote,
            calling,
            job=ctx.job,
            repeat=params.repeat,
            interval=params.interval,
            cancel=ctx.cancel_event,
            on_reply=on_reply,
        )
    except (AssociationFailed, VerificationRejected, TlsSetupFailed) as exc:
        raise JobFailed(str(exc)) from exc
    return outcome_of(session, params.repeat)


def outcome_of(session: EchoSession, requested: int) -> JobOutcome:
    replies = session.replies
    succeeded = [r for r in replies if r.status and r.status.code == DimseStatus.SUCCESS]
    last = replies[-1] if replies else None
    result: dict[str, object] = {
        "echoes_requested": requested,
        "echoes_sent": len(replies),
        "echoes_succeeded": len(succeeded),
    }
    if last is not None and last.status is not None:
        result["status"] = last.status.code
        result["status_text"] = str(last.status)
    if succeeded:
        result["round_trip_ms"] = round(min(r.round_trip_ms for r in succeeded), 2)
    if session.association is not None:
        result["peer_implementation_class_uid"] = session.association.peer_implementation_class_uid
        result["peer_implementation_version_name"] = (
            session.association.peer_implementation_version_name
        )
    if session.stopped_by_cancel:
        return JobOutcome(JobStatus.CANCELLED, result, error="Cancelled by an operator.")
    if len(succeeded) == requested:
        return JobOutcome(JobStatus.SUCCEEDED, result)
    failure = session.failure or (
        f"The peer answered C-ECHO with {last.status}." if last and last.status else ""
    )
    status = JobStatus.PARTIAL if succeeded else JobStatus.FAILED
    return JobOutcome(status, result, error=failure)


class EchoForm(JobForm):
    ae = remote_ae_field()
    calling_ae = local_ae_field()
    repeat = forms.IntegerField(min_value=1, max_value=10000, initial=1,
                                help_text="C-ECHOs on one association (echoscu -r).")
    interval = forms.FloatField(min_value=0, max_value=60, initial=0, required=False,
                                help_text="Seconds between C-ECHOs.")

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"ae": data["ae"].pk,
                "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
                "repeat": data["repeat"], "interval": data["interval"] or 0.0}


def command_lines(params: EchoParams) -> list[CommandLine]:
    remote = ApplicationEntity.objects.get(pk=params.ae)
    calling = calling_ae_title(params.calling_ae)
    repeat = f" -r {params.repeat}" if params.repeat > 1 else ""
    tls = " +tls <key> <cert> +cf <ca>" if remote.tls_enabled else ""
    dcm4che_tls = " --tls" if remote.tls_enabled else ""
    q = shlex.quote
    return [
        CommandLine("DCMTK", f"echoscu -aet {q(calling)} -aec {q(remote.ae_title)}{repeat}{tls} "
                             f"{q(remote.host)} {remote.port}"),
        CommandLine("dcm4che", f"storescu -b {q(calling)} -c "
                               f"{q(f'{remote.ae_title}@{remote.host}:{remote.port}')}"
                               f"{dcm4che_tls}"),
    ]


ECHO_KIND: JobKind[EchoParams] = JobKind(
    name="echo",
    label="C-ECHO",
    params_schema=EchoParams,
    run=run,
    describe=describe,
    form=EchoForm,
    command_lines=command_lines,
)
