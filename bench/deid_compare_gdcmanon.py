"""The same files de-identified by GDCM's gdcmanon and by the console: which attributes each
keeps, removes, empties or replaces, and where they differ.

    .venv/bin/python bench/deid_compare_gdcmanon.py [--folder DIR] [--with-phi-files]
        [--reversible] [--out report.md]

gdcmanon runs as ``gdcmanon -c cert.pem -e`` with a throwaway RSA key and certificate made by
openssl (its E.1.1 de-identifier: Basic Profile, originals encrypted into (0400,0500)); the
console runs its engine with the default configuration (Basic Profile, a random project key;
``--reversible`` gives it the same certificate). Without ``--folder`` the input is a few
corpus files of different IODs; ``--with-phi-files`` adds the held-back files of
tests/deid_phi_files.py (private tags, SR content, overlay comments, patient address...).

Every attribute of every input, at any depth (item numbers dropped from the path, private
elements named by their creator), gets one outcome per tool and file: kept, removed,
emptied or replaced; attributes only an output has are "added". The report is a markdown
table, one row per attribute, the rows where the tools differ first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from common import CORPUS, ROOT, WORK, cleanup

sys.path.insert(0, str(ROOT))

from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from archive.deid.config import DeidConfig, DeidRefused
from archive.deid.engine import deidentify_file
from archive.deid.phi import PhiFinding, identifying_values, scan_file

DEFAULT_FILES = (
    "MR-SIEMENS-DICOM-WithOverlays.dcm",  # MR Image, Siemens private groups, an overlay
    "eCT_Supplemental.dcm",  # Enhanced CT Image: people, institution, functional groups
    "OBXXXX1A.dcm",  # US Image
    "JPEG-LL.dcm",  # NM Image, private GEMS groups
    "RG1_J2KI.dcm",  # CR Image: Other Patient IDs, referring physician
    "liver.dcm",  # Segmentation
    "mlut_18.dcm",  # Secondary Capture: institution address, referring physician
    "parametric_map_float.dcm",  # Parametric Map
)


class Outcome(StrEnum):
    """What a de-identifier did to one attribute of one file."""

    KEPT = "kept"
    STILL_EMPTY = "left empty"  # the input had no value either
    REMOVED = "removed"
    EMPTIED = "emptied"
    REPLACED = "replaced"
    ADDED = "added"


@dataclass
class Row:
    """One attribute (by path) over all the files that have it."""

    path: str
    name: str
    gdcm: Counter[Outcome] = field(default_factory=Counter)
    console: Counter[Outcome] = field(default_factory=Counter)

    @property
    def differs(self) -> bool:
        return set(self.gdcm) != set(self.console)


def step(ds: Dataset, element: DataElement) -> tuple[str, str]:
    """The path step of ``element`` and its name. Private elements are taken together per
    block (group and private creator): ``(0029,xxxx) SIEMENS CSA HEADER``."""
    tag = element.tag
    if not tag.is_private:
        return f"({tag.group:04X},{tag.element:04X})", element.keyword or element.name
    if tag.element < 0x0100:
        owner = str(element.value)
    else:
        creator = ds.get((tag.group, tag.element >> 8))
        owner = str(creator.value) if creator is not None else "?"
    return f"({tag.group:04X},xxxx) {owner}", "private block"


def flatten(ds: Dataset, prefix: str = "") -> Iterator[tuple[str, str, list[object]]]:
    """(path, name, values) of every element, item numbers left out of the path (the values
    of all items gathered); a sequence's value is its number of items."""
    gathered: dict[str, tuple[str, list[object]]] = {}
    for path, name, value in _elements(ds, prefix):
        gathered.setdefault(path, (name, []))[1].append(value)
    for path, (name, values) in gathered.items():
        yield path, name, values


def _elements(ds: Dataset, prefix: str) -> Iterator[tuple[str, str, object]]:
    for element in ds:
        here, name = step(ds, element)
        path = prefix + here
        if element.tag.is_private:
            yield path, name, f"{element.tag}={element.value!r}"
        elif element.VR == "SQ":
            items = list(element.value or ())
            yield path, name, len(items)
            for item in items:
                yield from _elements(item, f"{path} > ")
        else:
            value = element.value
            yield path, name, value if isinstance(value, bytes) else str(value or "")


def empty(values: list[object]) -> bool:
    return all(v in ("", b"", 0) for v in values)


def outcome(before: list[object], after: list[object] | None) -> Outcome:
    if after is None:
        return Outcome.REMOVED
    if empty(before) and empty(after):
        return Outcome.STILL_EMPTY
    if before == after:
        return Outcome.KEPT
    if empty(after):
        return Outcome.EMPTIED
    return Outcome.REPLACED


def attributes(ds: Dataset) -> dict[str, tuple[str, list[object]]]:
    file_meta = getattr(ds, "file_meta", None)
    meta = {p: (n, v) for p, n, v in flatten(file_meta)} if file_meta is not None else {}
    return meta | {p: (n, v) for p, n, v in flatten(ds)}


def compare(rows: dict[str, Row], source: Path, gdcm: Path, console: Path) -> None:
    before = attributes(dcmread(source))
    outputs = {"gdcm": attributes(dcmread(gdcm)), "console": attributes(dcmread(console))}
    for path, (name, values) in before.items():
        row = rows.setdefault(path, Row(path, name))
        for tool, after in outputs.items():
            found = after.get(path)
            getattr(row, tool)[outcome(values, found[1] if found else None)] += 1
    for tool, after in outputs.items():
        for path, (name, _) in after.items():
            if path not in before:
                getattr(rows.setdefault(path, Row(path, name)), tool)[Outcome.ADDED] += 1


def left_behind(source: Path, output: Path) -> list[PhiFinding]:
    """The input's identifying values that the PHI scan finds in ``output``."""
    return scan_file(output, identifying_values(dcmread(source)))


def phi_lines(found: dict[str, dict[str, list[PhiFinding]]]) -> list[str]:
    """Per tool: how many distinct identifying values of the inputs are left (per file, dates
    apart), and which (each with the first attribute of the input that held it)."""
    lines = ["## Identifying values left (archive/deid/phi.py scan of each output)", "",
             "| Tool | Files with any | Dates left | Other values left | Those values |",
             "|---|---|---|---|---|"]
    for tool, per_file in found.items():
        dates: set[tuple[str, str]] = set()
        other: dict[tuple[str, str], str] = {}
        for name, findings in per_file.items():
            for f in findings:
                if f.value.text.isdigit() and len(f.value.text) == 8:
                    dates.add((name, f.value.text))
                else:
                    other.setdefault((name, f.value.text), f.value.source)
        sample = sorted({f"`{text}` ({source})" for (_, text), source in other.items()})
        lines.append(f"| {tool} | {sum(bool(fs) for fs in per_file.values())} | {len(dates)} "
                     f"| {len(other)} | {'; '.join(sample) or '—'} |")
    return [*lines, ""]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-key", str(key), "-x509", "-days", "1",
                    "-subj", "/CN=deid-compare", "-out", str(cert)], check=True,
                   capture_output=True)
    return key, cert


def run_gdcmanon(source: Path, out: Path, cert: Path) -> str:
    """'' when gdcmanon wrote ``out``, else what it said."""
    done = subprocess.run(["gdcmanon", "-c", str(cert), "-e", "-i", str(source), "-o", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    said = (done.stdout + done.stderr).strip()
    return "" if out.is_file() else (said.splitlines()[-1] if said else f"exit {done.returncode}")


def shown(counts: Counter[Outcome], files: int) -> str:
    if len(counts) == 1 and sum(counts.values()) == files:
        return next(iter(counts)).value
    return ", ".join(f"{o.value} ×{n}" for o, n in counts.most_common())


def report(rows: dict[str, Row], done: list[str], refused: list[str],
           found: dict[str, dict[str, list[PhiFinding]]]) -> str:
    ordered = sorted(rows.values(), key=lambda r: (not r.differs, r.path))
    differ = sum(r.differs for r in ordered)
    lines = [
        "# De-identification: gdcmanon -e and the console (Basic Profile)", "",
        f"Files compared: {len(done)} ({', '.join(done)}).", "",
        f"Attributes (paths): {len(rows)}; the tools differ on {differ}.", "",
    ]
    if refused:
        lines += ["Not compared (one of the tools refused the file):", ""]
        lines += [f"- {line}" for line in refused] + [""]
    lines += phi_lines(found)
    lines += ["## What each did to each attribute", "",
              "| Attribute | Name | Files | gdcmanon | console | differ |",
              "|---|---|---|---|---|---|"]
    for row in ordered:
        files = max(sum(row.gdcm.values()), sum(row.console.values()))
        lines.append(f"| `{row.path}` | {row.name} | {files} | {shown(row.gdcm, files)} | "
                     f"{shown(row.console, files)} | {'**yes**' if row.differs else ''} |")
    return "\n".join(lines) + "\n"


def inputs(args: argparse.Namespace, folder: Path) -> list[Path]:
    if args.folder:
        return sorted(p for p in Path(args.folder).rglob("*") if p.is_file())
    files = [CORPUS / name for name in DEFAULT_FILES]
    if args.with_phi_files:
        from tests.deid_phi_files import phi_laden_files

        files += phi_laden_files(folder / "phi")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", help="de-identify these files (default: corpus files)")
    parser.add_argument("--with-phi-files", action="store_true",
                        help="add the held-back files of tests/deid_phi_files.py")
    parser.add_argument("--reversible", action="store_true",
                        help="give the console gdcmanon's certificate too")
    parser.add_argument("--out", default=str(WORK / "deid-compare-gdcmanon.md"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    try:
        _, cert = make_certificate(WORK)
        config = DeidConfig(project_key=os.urandom(32),
                            certificate_pem=cert.read_bytes() if args.reversible else None)
        rows: dict[str, Row] = {}
        done: list[str] = []
        refused: list[str] = []
        found: dict[str, dict[str, list[PhiFinding]]] = {"gdcmanon": {}, "console": {}}
        for number, source in enumerate(inputs(args, WORK)):
            gdcm_dir, console_dir = WORK / f"gdcm{number}", WORK / f"console{number}"
            gdcm_dir.mkdir()
            console_dir.mkdir()
            gdcm_out = gdcm_dir / f"output{number}.dcm"  # its name says nothing of the input
            said = run_gdcmanon(source, gdcm_out, cert)
            try:
                console, _ = deidentify_file(source, console_dir, config)
            except DeidRefused as exc:
                refused.append(f"{source.name}: the console refused it ({exc})")
                continue
            if said:
                refused.append(f"{source.name}: gdcmanon: {said}")
                continue
            compare(rows, source, gdcm_out, console)
            found["gdcmanon"][source.name] = left_behind(source, gdcm_out)
            found["console"][source.name] = left_behind(source, console)
            done.append(source.name)
        text = report(rows, done, refused, found)
        Path(args.out).write_text(text)
        differ = sum(r.differs for r in rows.values())
        print(f"{len(done)} files, {len(rows)} attributes, {differ} differ; report: {args.out}")
    finally:
        if not args.out.startswith(str(WORK)):
            cleanup()
        else:
            for child in WORK.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)


if __name__ == "__main__":
    main()
