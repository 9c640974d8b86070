"""First-run guidance of the dashboard: the set-up steps a fresh console still needs (a remote
AE, a listener, something in the archive), each linked when the user's role may do it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.urls import reverse

from console.roles import Role, has_role
from netjobs.models import AEKind, ApplicationEntity, DesiredState, Listener


class StepKind(StrEnum):
    ADD_AE = "add_ae"
    ADD_LISTENER = "add_listener"
    START_LISTENER = "start_listener"
    IMPORT = "import"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    title: str
    text: str
    url: str = ""  # empty: the user's role may not do it
    action: str = ""

    @property
    def role_needed(self) -> str:
        admin_steps = (StepKind.ADD_AE, StepKind.ADD_LISTENER)
        return "an Administrator" if self.kind in admin_steps else "an Operator"


def first_run_steps(user: Any, has_studies: bool) -> list[Step]:
    """The set-up steps not done yet, each with a link when the user's role may do it."""
    steps = []
    admin, operator = has_role(user, Role.ADMINISTRATOR), has_role(user, Role.OPERATOR)
    if not ApplicationEntity.objects.filter(kind=AEKind.REMOTE).exists():
        steps.append(Step(
            StepKind.ADD_AE, "Add a remote AE",
            "The peers this console calls: their AE title, host and port. Then press Echo.",
            reverse("netjobs:ae_create") if admin else "", "Add an AE"))
    if not Listener.objects.exists():
        steps.append(Step(
            StepKind.ADD_LISTENER, "Add a listener",
            "A listener lets modalities and PACS send to the console (C-STORE), query it and "
            "echo it.", reverse("netjobs:listener_create") if admin else "", "Add a listener"))
    elif not Listener.objects.filter(desired_state=DesiredState.RUNNING).exists():
        steps.append(Step(
            StepKind.START_LISTENER, "Start a listener",
            "Every listener is stopped: open one and press Start.",
            reverse("netjobs:listener_list") if operator else "", "Open the listeners"))
    if not has_studies:
        steps.append(Step(
            StepKind.IMPORT, "Import files",
            "Upload DICOM files, folders or ZIP files, or read a server folder, into the "
            "archive.", reverse("archive:import") if operator else "", "Import files"))
    return steps
