"""The plain-text README at a medium's root: what the medium is and how to open it.

It is the File-set Descriptor File (0004,1141) = README with no character set (0004,1142),
so it is ASCII only (other characters are transliterated, or replaced by "?"), its lines
are at most 80 characters and end in CRLF, so that it reads the same everywhere.
"""

from __future__ import annotations

import os
import re
import textwrap
import unicodedata
from datetime import datetime
from pathlib import Path

from archive.media.dicomdir.model import Directory
from archive.media.profiles import MediaProfile
from archive.media.summary import summarise

README_FILE_ID = ("README",)
WIDTH = 80
FIRST_LINE = "DICOM medium"  # how a README this module wrote begins
_PROFILE_LINE = re.compile(r"^Media application profile: (\S+)", re.MULTILINE)


def ascii_text(value: str) -> str:
    """``value`` in printable ASCII: accents dropped, other characters as "?"."""
    decomposed = unicodedata.normalize("NFKD", value)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" else ("?" if c not in "\r\n\t" else " ")
                   for c in kept)


def _name(value: str) -> str:
    """A DICOM person name (Family^Given^Middle^Prefix^Suffix) as people write it."""
    family, _, rest = value.partition("^")
    given = " ".join(part for part in rest.split("^") if part)
    return f"{family}, {given}" if family and given else (family or given)


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if re.fullmatch(r"\d{8}", value) else value


def _wrapped(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent) or [""]


def _study_lines(directory: Directory) -> list[str]:
    lines: list[str] = []
    for row in summarise(directory).study_rows:
        patient = ascii_text(_name(str(row["patient_name"]))) or "(no name)"
        text = (f"- {patient} (ID {ascii_text(str(row['patient_id'])) or '-'}), "
                f"{_date(ascii_text(str(row['study_date']))) or 'no date'}, "
                f"{ascii_text(str(row['study_description'])) or 'no description'}: "
                f"{row['instances']} instance(s)")
        lines.extend(_wrapped(text, "  "))
    return lines or ["(none)"]


def render_readme(directory: Directory, profile: MediaProfile | None,
                  when: datetime) -> str:
    """The README's text (lines without their ends) for the File-set ``directory``."""
    contents = summarise(directory)
    fileset_id = ascii_text(directory.fileset_id) or "(none)"
    profile_text = f"{profile.value} ({profile.label})" if profile else "not recorded"
    lines = [
        FIRST_LINE,
        "=" * len(FIRST_LINE),
        "",
        *_wrapped("This medium holds a DICOM File-set (DICOM PS3.10) of medical images and "
                  "related objects, with a DICOMDIR file listing them."),
        "",
        f"File-set ID: {fileset_id}",
        f"Media application profile: {profile_text}",
        f"Written on: {when:%Y-%m-%d %H:%M}",
        f"Contents: {contents.patients} patient(s), {contents.studies} study(ies), "
        f"{contents.series} series, {contents.instances} instance(s).",
        "",
        "Studies:",
        *_study_lines(directory),
        "",
        "How to open it",
        "--------------",
        *_wrapped("There is no viewer on this medium. Open it with any DICOM viewer: choose "
                  "the DICOMDIR file at the top of the medium (in some viewers: 'Open "
                  "DICOMDIR' or 'Import media'). The image files are in the DICOM folder; "
                  "their names carry no extension."),
    ]
    return "\r\n".join(line[:WIDTH] for line in lines) + "\r\n"


def profile_of(text: str) -> MediaProfile | None:
    """The profile a README this module wrote names, if any."""
    match = _PROFILE_LINE.search(text)
    if match is None:
        return None
    try:
        return MediaProfile(match.group(1))
    except ValueError:
        return None


def is_ours(path: Path) -> bool:
    """True when ``path`` is a README this module wrote (safe to rewrite)."""
    try:
        with path.open("rb") as file:
            return file.read(len(FIRST_LINE) + 2) == (FIRST_LINE + "\r\n").encode()
    except OSError:
        return False


def write_readme(path: Path, text: str) -> int:
    """Write the README atomically (temporary file, fsync, rename); its size in bytes."""
    data = text.encode("ascii")
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    return len(data)
