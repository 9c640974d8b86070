"""The ``connectivity`` job kind: the three checks of a remote AE, their verdict, and a
readable report on the job page (``netjobs/_connectivity_report.html``)."""

from __future__ import annotations

import shlex
from dataclasses import asdict
from typing import Any

from django import forms
from pydantic import BaseModel, ConfigDict, Field, field_validator

from netjobs.jobs.base import CommandLine, JobContext, JobKind, JobOutcome
from netjobs.jobs.forms import JobForm, local_ae_field, remote_ae_field
from netjobs.models import ApplicationEntity, JobStatus, LogLevel
from netjobs.operations.common import (
    ae_label,
    calling_ae_title,
    local_ae_exists,
    remote_ae_exists,
    remote_or_fail,
)
from netjobs.operations.connectivity.address import console_address, remote_configuration
from netjobs.operations.connectivity.checks import (
    ABSENT_STUDY_UID,
    EchoFinding,
    MoveFinding,
    MoveVerdict,
    SyntaxProbe,
    check_echo,
    matrix,
    move_to_self,
    probe_syntaxes,
)


class ConnectivityParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae: int = Field(description="ID of the remote AE to check")
    calling_ae: int | None = Field(
        default=None, description="ID of the local AE to call from (default: CONSOLE_AE_TITLE)")
    move_test: bool = Field(default=True, description="C-MOVE to the console's own AE title")
    transfer_syntaxes: bool = Field(default=True,
                                    description="Probe the transfer syntaxes it accepts")

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)


# --- the job ------------------------------------------------------------------------------
def summary_of(echo: EchoFinding, move: MoveFinding, probe: SyntaxProbe | None) -> str:
    parts = [echo.explanation, move.explanation]
    if probe is not None:
        accepted = sum(1 for cell in probe.cells.values() if cell == "accepted")
        parts.append(f"{accepted} of {len(probe.cells)} SOP class / transfer syntax "
                     "combinations accepted.")
    return " ".join(p for p in parts if p)


def outcome_of(echo: EchoFinding, move: MoveFinding, probe: SyntaxProbe | None,
               result: dict[str, Any]) -> JobOutcome:
    """Succeeded: reachable, echo answered and nothing to configure; partial: reachable but
    something needs attention; failed: no association at all."""
    if not echo.reachable:
        return JobOutcome(JobStatus.FAILED, result, error=echo.explanation)
    attention = [] if echo.ok else [echo.explanation]
    if move.verdict in (MoveVerdict.DOES_NOT_KNOW_CONSOLE, MoveVerdict.MOVE_FAILED,
                        MoveVerdict.NO_ASSOCIATION):
        attention.append(move.explanation)
    if probe is not None and probe.problems:
        attention.extend(probe.problems)
    if attention:
        return JobOutcome(JobStatus.PARTIAL, result, error=" ".join(attention))
    return JobOutcome(JobStatus.SUCCEEDED, result)


def run(ctx: JobContext, params: ConnectivityParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    console = console_address(calling)
    steps = 1 + int(params.move_test) + int(params.transfer_syntaxes)
    ctx.set_progress(0, steps)
    ctx.log(f"Checking {remote} as {calling}; the console is {console} ({console.source}).")
    echo = check_echo(ctx, remote, calling)
    ctx.log(f"C-ECHO: {echo.explanation}", LogLevel.INFO if echo.ok else LogLevel.WARNING)
    ctx.set_progress(1)
    move = MoveFinding(MoveVerdict.NOT_RUN, "")
    probe = None
    if not echo.reachable:  # the other checks would fail the same way
        move = MoveFinding(MoveVerdict.NOT_RUN, "The other checks did not run: no association "
                                                "is possible.")
    if params.move_test and echo.reachable:
        ctx.check_cancelled()
        move = move_to_self(ctx, remote, calling, console)
        ctx.log(f"C-MOVE to {console.ae_title}: {move.explanation}")
        ctx.set_progress(ctx.job.progress_done + 1)
    if params.transfer_syntaxes and echo.reachable:
        probe = probe_syntaxes(ctx, remote, calling)
        ctx.set_progress(ctx.job.progress_done + 1)
    result: dict[str, Any] = {
        "console": asdict(console), "echo": asdict(echo),
        "move": {**asdict(move), "verdict": move.verdict.value},
        "remote_configuration": remote_configuration(remote, console),
        "summary": summary_of(echo, move, probe),
    }
    if probe is not None:
        result["transfer_syntaxes"] = matrix(probe)
    return outcome_of(echo, move, probe, result)


def describe(params: ConnectivityParams) -> str:
    return f"Connectivity check of {ae_label(params.ae)}"


class ConnectivityForm(JobForm):
    ae = remote_ae_field()
    calling_ae = local_ae_field()
    move_test = forms.BooleanField(
        label="C-MOVE to the console", required=False, initial=True,
        help_text="Does the remote AE know the console as a move destination?")
    transfer_syntaxes = forms.BooleanField(
        label="Transfer syntaxes", required=False, initial=True,
        help_text="Which transfer syntaxes it accepts for common SOP classes.")

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"ae": data["ae"].pk,
                "calling_ae": data["calling_ae"].pk if data["calling_ae"] else None,
                "move_test": bool(data["move_test"]),
                "transfer_syntaxes": bool(data["transfer_syntaxes"])}


def command_lines(params: ConnectivityParams) -> list[CommandLine]:
    remote = ApplicationEntity.objects.get(pk=params.ae)
    q = shlex.quote
    calling = q(calling_ae_title(params.calling_ae))
    where = f"{q(remote.host)} {remote.port}"
    dcm4che = f"-c {q(f'{remote.ae_title}@{remote.host}:{remote.port}')} -b {calling}"
    tls, dcm4che_tls = (" +tls <key> <cert> +cf <ca>", " --tls") if remote.tls_enabled \
        else ("", "")
    lines = [CommandLine("DCMTK", f"echoscu -aet {calling} -aec {q(remote.ae_title)}{tls} "
                                  f"{where}"),
             CommandLine("dcm4che", f"storescu {dcm4che}{dcm4che_tls}")]
    if params.move_test:
        destination = q(console_address(calling_ae_title(params.calling_ae)).ae_title)
        lines += [
            CommandLine("DCMTK", f"movescu -S -aet {calling} -aec {q(remote.ae_title)} "
                                 f"-aem {destination}{tls} -k QueryRetrieveLevel=STUDY "
                                 f"-k StudyInstanceUID={ABSENT_STUDY_UID} {where}"),
            CommandLine("dcm4che", f"movescu {dcm4che}{dcm4che_tls} --dest {destination} "
                                   f"-L STUDY -m StudyInstanceUID={ABSENT_STUDY_UID}"),
        ]
    return lines


CONNECTIVITY_KIND: JobKind[ConnectivityParams] = JobKind(
    name="connectivity",
    label="Connectivity check",
    params_schema=ConnectivityParams,
    run=run,
    describe=describe,
    form=ConnectivityForm,
    command_lines=command_lines,
)
