"""The preview of a de-identification on one archived instance: the dump before and after,
side by side, each changed attribute marked with the rule that changed it, and the PHI scan
of the result. Nothing is written to the archive or the pseudonym table."""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from archive.deid.config import DeidConfig, DeidRefused, Pseudonym, derived_pseudonym
from archive.deid.dumb import DumbRuleRefused, parse_rules
from archive.deid.engine import deidentify_in_place, read_source
from archive.deid.jobs.forms import DeidentifyForm, lines_of
from archive.deid.jobs.run import parse_safe_private
from archive.deid.method import ADDED
from archive.deid.models import DeidProject
from archive.deid.models import Pseudonym as PseudonymRow
from archive.deid.phi import PhiFinding, scan_file
from archive.deid.profile import EDITION, ProfileOption
from archive.inspect.dump import DumpRow, dump
from archive.models import Instance
from archive.objects.edit.files import write_like_source
from archive.pickers import ArchiveObjectField, PickLevel
from archive.storage import absolute_path
from console.roles import Role, has_role, role_required

PATIENT_TAGS = (0x00100010, 0x00100020)
PATIENT_PATHS = ("00100010", "00100020")
HIDDEN = "(the project's pseudonym: shown to Administrators)"
logger = logging.getLogger(__name__)
_STEP = re.compile(r"\((\w{4}),(\w{4})\)(?:\[(\d+)\])?")
SHOWN_ROW_KINDS = ("element", "item")


class PreviewForm(forms.Form):
    instance = ArchiveObjectField(PickLevel.INSTANCE, label="Instance")
    project = DeidentifyForm.base_fields["project"]
    options = DeidentifyForm.base_fields["options"]
    dumb = DeidentifyForm.base_fields["dumb"]
    empty = DeidentifyForm.base_fields["empty"]
    remove = DeidentifyForm.base_fields["remove"]
    replace = DeidentifyForm.base_fields["replace"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        options = set(data.get("options") or [])
        if {ProfileOption.RETAIN_FULL_DATES, ProfileOption.RETAIN_MODIFIED_DATES} <= options:
            raise forms.ValidationError("Retain full dates or modified dates, not both.")
        if data.get("dumb"):
            try:
                data["rules"] = parse_rules(lines_of(data.get("empty", "")),
                                            lines_of(data.get("remove", "")),
                                            lines_of(data.get("replace", "")))
            except DumbRuleRefused as exc:
                raise forms.ValidationError(str(exc)) from None
        return data


@dataclass
class SideBySide:
    """One line of the side-by-side dump: the row before, the row after (either may be
    absent), and the rule that changed it."""

    before: DumpRow | None
    after: DumpRow | None
    rule: str = ""
    action: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.action)


class ReadOnlyTable:
    """The project's pseudonyms, read without adding any (a preview writes nothing)."""

    def __init__(self, project: DeidProject) -> None:
        self.project = project
        self.generated = False

    def __call__(self, patient_id: str, patient_name: str) -> Pseudonym:
        row = PseudonymRow.objects.filter(project=self.project,
                                          original_patient_id=patient_id.strip()).first()
        if row is not None:
            return Pseudonym(row.pseudonym_id, row.pseudonym_name)
        self.generated = True
        return derived_pseudonym(self.project.key, self.project.pseudonym_prefix)(
            patient_id, patient_name)


def dump_path(change_path: str) -> str:
    """"(0008,1115)[0] > (0008,1155)" → the dump's "00081115/0/00081155"."""
    parts: list[str] = []
    for group, element, item in _STEP.findall(change_path):
        parts.append(f"{group}{element}".upper())
        if item:
            parts.append(item)
    return "/".join(parts)


def side_by_side(before: list[DumpRow], after: list[DumpRow],
                 rules: dict[str, tuple[str, str]]) -> list[SideBySide]:
    """Pair the rows of both dumps by element path, in the order of the original."""
    wanted = [row for row in before if row.kind in SHOWN_ROW_KINDS]
    later = {row.path: row for row in after if row.kind == "element" and row.path}
    lines: list[SideBySide] = []
    seen: set[str] = set()
    for row in wanted:
        partner = later.get(row.path) if row.kind == "element" else row
        seen.add(row.path)
        action, rule = rules.get(row.path, ("", ""))
        lines.append(SideBySide(row, partner, rule, action))
    for row in after:  # what the de-identification added
        if row.kind == "element" and row.path and row.path not in seen:
            action, rule = rules.get(row.path, (ADDED, "added"))
            lines.append(SideBySide(None, row, rule, action))
    return lines


def preview_instance(instance: Instance, project: DeidProject, options: frozenset[ProfileOption],
                     rules: Any = None, reveal_pseudonym: bool = False) -> dict[str, Any]:
    source = absolute_path(instance.file_path)
    ds, warnings = read_source(source)
    table = ReadOnlyTable(project)
    config = DeidConfig(options=options, project_key=project.key,
                        safe_private=parse_safe_private(project.safe_private),
                        pseudonym=table, dumb=rules)
    result = deidentify_in_place(ds, config)
    with tempfile.TemporaryDirectory(prefix="deid-preview-") as folder:
        written = Path(folder) / "preview.dcm"
        write_like_source(ds, written)
        findings: list[PhiFinding] = scan_file(
            written, result.phi, retained_uids=result.retained_uids) if rules is None else []
        after = dump(written).rows
        before = dump(source).rows
    changed = {dump_path(c.path): (c.action, c.reason) for c in result.changes}
    lines, changes = side_by_side(before, after, changed), result.changes
    pseudonym: tuple[str, str] | None = (str(ds.get("PatientID", "")),
                                         str(ds.get("PatientName", "")))
    if not reveal_pseudonym:  # the mapping table is for Administrators only
        pseudonym = None
        changes = [replace(c, after=HIDDEN) if c.tag in PATIENT_TAGS else c
                   for c in changes]  # at any depth: the walk gives nested ones too
        for line in lines:
            path = line.after.path if line.after is not None else ""
            if line.after is not None and path.rsplit("/", 1)[-1] in PATIENT_PATHS:
                line.after = replace(line.after, value=HIDDEN)
    return {"lines": lines, "changes": changes, "held_back": result.held_back,
            "findings": findings, "warnings": [*warnings, *result.warnings],
            "generated_pseudonym": table.generated, "pseudonym": pseudonym}


@role_required(Role.OPERATOR)
def preview_page(request: HttpRequest) -> HttpResponse:
    bound = "instance" in request.GET and "project" in request.GET  # a link gives the instance
    form = PreviewForm(request.GET if bound else None, initial=request.GET.dict())
    context: dict[str, Any] = {"form": form, "edition": EDITION,
                               "has_projects": DeidProject.objects.exists()}
    status = 200
    if bound and form.is_valid():
        data = form.cleaned_data
        try:
            context.update(preview_instance(
                data["instance"], data["project"],
                frozenset(ProfileOption(o) for o in data.get("options") or []),
                data.get("rules") if data.get("dumb") else None,
                reveal_pseudonym=has_role(request.user, Role.ADMINISTRATOR)))
            context["instance"] = data["instance"]
        except (DeidRefused, OSError) as exc:
            context["error"] = f"This instance cannot be de-identified: {exc}"
            status = 422
        except (ValueError, TypeError, RecursionError) as exc:  # pydicom on a broken file
            logger.warning("preview of instance %s failed: %s", data["instance"].pk, exc)
            context["error"] = ("This instance cannot be de-identified: its file cannot be "
                                f"read or written again ({type(exc).__name__})")
            status = 422
    elif bound:
        status = 400
    return render(request, "deid/preview.html", context, status=status)
