"""Forms of the de-identification projects: the project's settings, and the upload of its
pseudonym mapping table (a CSV of original Patient ID → pseudonymous Patient ID / Name)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from archive.deid.jobs.run import parse_safe_private
from archive.deid.keys import CertificateRefused, load_certificate
from archive.deid.models import DeidProject, Pseudonym, PseudonymOrigin

PREFIX_PATTERN = re.compile(r"[A-Z0-9_-]{1,16}")
MAX_CERTIFICATE_BYTES = 64 * 1024
MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_LISTED_ERRORS = 20
# Characters no LO (Patient ID) or PN (Patient Name) value may hold: control characters and
# the backslash, which separates values of a multi-valued element (PS3.5 6.2).
FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")


class DeidProjectForm(forms.ModelForm):
    """A project's name, prefix, certificate (file or pasted PEM) and safe private list.

    The project key is not a field: it is made once, at creation, and never shown."""

    certificate_file = forms.FileField(
        required=False, label="Certificate file (PEM)",
        help_text="An uploaded file replaces the text below.")
    certificate_text = forms.CharField(
        required=False, label="Certificate (PEM text)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false",
                                     "placeholder": "-----BEGIN CERTIFICATE-----"}),
        help_text="The recipient's X.509 certificate (RSA). With one, jobs can keep the "
                  "replaced values encrypted in each file (Encrypted Attributes Sequence); "
                  "only the holder of its private key re-identifies. Empty: no certificate.")

    class Meta:
        model = DeidProject
        fields = ["name", "description", "pseudonym_prefix", "safe_private"]
        widgets = {"safe_private": forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})}
        labels = {"safe_private": "Safe private elements", "pseudonym_prefix": "Pseudonym prefix"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pseudonym_prefix"].help_text = (
            "Generated pseudonyms start with it: 1 to 16 of A–Z, 0–9, - and _.")
        if self.instance.pk:
            # jobs name their project in their parameters (and their retries look it up)
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "Jobs name the project by it: it can't change."
            if not self.is_bound:
                self.initial["certificate_text"] = self.instance.certificate_pem

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if FORBIDDEN_CHARACTERS.search(name):
            raise forms.ValidationError("A name can't hold control characters or a backslash.")
        return name

    def clean_pseudonym_prefix(self) -> str:
        prefix = str(self.cleaned_data["pseudonym_prefix"]).strip()
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise forms.ValidationError(
                f"{prefix!r} is not 1 to 16 of A–Z, 0–9, - and _ (upper case).")
        return prefix

    def clean_safe_private(self) -> str:
        text = str(self.cleaned_data.get("safe_private") or "")
        try:
            parse_safe_private(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return text.strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload: UploadedFile | None = data.get("certificate_file")
        source = "certificate_file" if upload else "certificate_text"
        read = _read_upload_text(upload) if upload else str(data.get("certificate_text") or "")
        if read is None:
            self.add_error(source, "The file is not a PEM text file (or is over 64 KB).")
            return data
        pem = read.strip()
        if pem:
            try:
                load_certificate(pem.encode("ascii", errors="replace"))
            except CertificateRefused as exc:
                self.add_error(source, str(exc))
                return data
        data["certificate_pem"] = pem + "\n" if pem else ""
        return data

    def save(self, commit: bool = True) -> DeidProject:
        project: DeidProject = super().save(commit=False)
        if "certificate_pem" in self.cleaned_data:
            project.certificate_pem = self.cleaned_data["certificate_pem"]
        if commit:
            project.save()
        return project

    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        groups = (
            ("Project", ("name", "description", "pseudonym_prefix")),
            ("Reversible de-identification", ("certificate_file", "certificate_text")),
            ("Retain Safe Private Option", ("safe_private",)),
        )
        return [(title, [self[name] for name in names]) for title, names in groups]


def _read_upload_text(upload: UploadedFile) -> str | None:
    if upload.size is not None and upload.size > MAX_CERTIFICATE_BYTES:
        return None
    try:
        return upload.read(MAX_CERTIFICATE_BYTES + 1).decode("ascii")
    except UnicodeDecodeError:
        return None


# -- the pseudonym mapping table -----------------------------------------------------------------

COLUMNS = ("original_patient_id", "pseudonym_id", "pseudonym_name", "original_patient_name")
REQUIRED_COLUMNS = ("original_patient_id", "pseudonym_id")
IGNORED_COLUMNS = ("origin", "created_at")  # what the download adds: read back, not used
MAX_LENGTHS = {name: getattr(Pseudonym._meta.get_field(name), "max_length", None) or 64
               for name in COLUMNS}


class PseudonymUploadForm(forms.Form):
    table = forms.FileField(
        label="Mapping table (CSV)",
        help_text="UTF-8, up to 2 MB: original_patient_id,pseudonym_id[,pseudonym_name]"
                  "[,original_patient_name], with or without that header line.")
    replace_existing = forms.BooleanField(
        required=False, label="Replace existing pseudonyms",
        help_text="Give a patient already in the table a new pseudonym. Files delivered "
                  "before keep the old one, so later deliveries no longer match them.")


@dataclass
class TableRow:
    """One line of the table; ``pseudonym_name`` is "" when the line gives none."""

    line: int
    original_patient_id: str
    pseudonym_id: str
    pseudonym_name: str
    original_patient_name: str


@dataclass
class ImportPlan:
    """What an upload would do, or why it is refused (then nothing is imported)."""

    errors: list[str] = field(default_factory=list)
    create: list[TableRow] = field(default_factory=list)
    update: list[tuple[Pseudonym, TableRow]] = field(default_factory=list)
    unchanged: int = 0

    def listed_errors(self) -> list[str]:
        shown = self.errors[:MAX_LISTED_ERRORS]
        if len(self.errors) > MAX_LISTED_ERRORS:
            shown.append(f"… and {len(self.errors) - MAX_LISTED_ERRORS} more problems.")
        return shown


def read_table(upload: UploadedFile) -> tuple[list[TableRow], list[str]]:
    """The rows of an uploaded mapping table, or the reasons it can't be read."""
    if upload.size is not None and upload.size > MAX_CSV_BYTES:
        return [], [f"The file is {upload.size:,} bytes; the limit is 2 MB ({MAX_CSV_BYTES:,})."]
    raw = upload.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        return [], [f"The file is over 2 MB ({MAX_CSV_BYTES:,} bytes)."]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return [], [f"line {line}: not UTF-8 (byte 0x{raw[exc.start]:02X}); save the table "
                    "as CSV UTF-8."]
    return parse_rows(text)


def parse_rows(text: str) -> tuple[list[TableRow], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors: list[str] = []
    rows: list[TableRow] = []
    header: tuple[str, ...] | None = None
    first = True
    try:
        for cells in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if first:
                first = False
                header, header_error = _columns(cells)
                if header_error:
                    return [], [f"line {line}: {header_error}"]
                if header is not None:
                    continue
            columns = header or COLUMNS[:len(cells)]
            if header is None and not 2 <= len(cells) <= len(COLUMNS):
                errors.append(f"line {line}: {len(cells)} columns; expected 2 to 4 "
                              f"({', '.join(COLUMNS)}) or a header line.")
                continue
            row, problems = _row(line, cells, columns)
            errors += problems
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: {exc}")
    if not rows and not errors:
        errors.append("The file holds no rows.")
    return rows, errors


def _columns(cells: list[str]) -> tuple[tuple[str, ...] | None, str]:
    """The columns a header line names (None if the line is data), or what is wrong."""
    names = [cell.lower() for cell in cells]
    if "original_patient_id" not in names and "pseudonym_id" not in names:
        return None, ""
    unknown = [n for n in names if n not in COLUMNS and n not in IGNORED_COLUMNS]
    if unknown:
        return None, f"unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}."
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if missing:
        return None, f"the header lacks {', '.join(missing)}."
    if len(set(names)) != len(names):
        return None, "a column is named twice."
    return tuple(names), ""


def _row(line: int, cells: list[str], columns: tuple[str, ...]) -> tuple[TableRow | None,
                                                                          list[str]]:
    if len(cells) != len(columns):
        return None, [f"line {line}: {len(cells)} columns, the header has {len(columns)}."]
    values = dict(zip(columns, cells, strict=True))
    problems = [f"line {line}: {name} is empty." for name in REQUIRED_COLUMNS if not values[name]]
    for name in COLUMNS:
        value = values.get(name, "")
        if len(value) > MAX_LENGTHS[name]:
            problems.append(f"line {line}: {name} is {len(value)} characters; at most "
                            f"{MAX_LENGTHS[name]}.")
        if FORBIDDEN_CHARACTERS.search(value):
            problems.append(f"line {line}: {name} holds a backslash or a control character, "
                            "which no Patient ID or Patient Name may hold.")
    if problems:
        return None, problems
    return TableRow(line, values["original_patient_id"], values["pseudonym_id"],
                    values.get("pseudonym_name", ""),
                    values.get("original_patient_name", "")), []


def plan_import(project: DeidProject, rows: list[TableRow], replace_existing: bool) -> ImportPlan:
    """Check the rows against each other and against the project's table."""
    plan = ImportPlan()
    first_line_of: dict[tuple[str, str], int] = {}
    for row in rows:
        for column in ("original_patient_id", "pseudonym_id"):
            value = getattr(row, column)
            earlier = first_line_of.setdefault((column, value), row.line)
            if earlier != row.line:
                plan.errors.append(f"line {row.line}: {column} {value!r} is already on line "
                                   f"{earlier}.")
    table = project.pseudonyms.all()
    by_original = {p.original_patient_id: p for p in table.filter(
        original_patient_id__in=[r.original_patient_id for r in rows])}
    by_pseudonym = {p.pseudonym_id: p for p in table.filter(
        pseudonym_id__in=[r.pseudonym_id for r in rows])}
    for row in rows:
        holder = by_pseudonym.get(row.pseudonym_id)
        if holder is not None and holder.original_patient_id != row.original_patient_id:
            plan.errors.append(f"line {row.line}: pseudonym {row.pseudonym_id!r} is already "
                               f"given to patient {holder.original_patient_id!r}.")
            continue
        existing = by_original.get(row.original_patient_id)
        if existing is None:
            row.pseudonym_name = row.pseudonym_name or row.pseudonym_id
            plan.create.append(row)
            continue
        row.pseudonym_name = row.pseudonym_name or existing.pseudonym_name
        before = (existing.pseudonym_id, existing.pseudonym_name)
        if before != (row.pseudonym_id, row.pseudonym_name) and not replace_existing:
            plan.errors.append(
                f"line {row.line}: patient {row.original_patient_id!r} already has pseudonym "
                f"{' / '.join(before)!r}. Changing it breaks consistency with files "
                "delivered before; tick “Replace existing pseudonyms” to do it anyway.")
        elif _same(existing, row):
            plan.unchanged += 1
        else:
            plan.update.append((existing, row))
    return plan


def _same(existing: Pseudonym, row: TableRow) -> bool:
    same_pseudonym = (existing.pseudonym_id, existing.pseudonym_name) == (row.pseudonym_id,
                                                                          row.pseudonym_name)
    same_name = not row.original_patient_name or (
        existing.original_patient_name == row.original_patient_name)
    return existing.origin == PseudonymOrigin.UPLOADED and same_pseudonym and same_name
