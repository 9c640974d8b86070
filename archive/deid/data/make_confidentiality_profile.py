"""Builds confidentiality_profile.json: PS3.15 Table E.1-1 with its basic and option columns.

Table E.1-1 (Application Level Confidentiality Profile Attributes) gives, per attribute, the
Basic Profile action code and the codes of the options that change it. No single
machine-readable copy of the current edition has every column, so this script merges two:

* ``--basic``: the module ``dicomfields_<edition>.py`` of the PyPI package dicom-anonymizer,
  which lists the current edition's basic action codes as (group, element) tuples, grouped in
  lists named after the code (``X_Z_D_TAGS`` = X/Z/D), with the attribute name in a comment.
  It is read as data (parsed with ``ast``), never imported.
* ``--options``: innolitics/dicom-standard's ``confidentiality_profile_attributes.json``, made
  from the standard's HTML of an older edition, which has the option columns too.

The basic code always comes from ``--basic`` where it lists the attribute, so where the two
disagree the newer edition wins (and the tag goes into ``changed_since_options_source``).
Option codes come from ``--options`` where it has the attribute. For attributes that are new
since that edition, option codes come only from the rules in RULES, each applied only when it
holds for every row of ``--options`` it covers; otherwise their options stay blank and the
row says ``"options_from": null``.

Run from the repository root:
  python archive/deid/data/make_confidentiality_profile.py --basic .../dicomfields_2026c.py \
      --options .../confidentiality_profile_attributes.json \
      --out archive/deid/data/confidentiality_profile.json
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydicom.datadict import RepeatersDictionary, get_entry

from archive.deid.data.profile_rules import (
    OPTION_COLUMNS,
    PRIVATE_ID,
    RULES,
    Attribute,
    check_rule,
    options_of,
    rule_options,
    tag_text,
)

BASIC_LISTS = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
OPTION_CODES = {"K", "C"}
BASIC_SOURCE = "dicom-anonymizer"
OPTIONS_SOURCE = "innolitics/dicom-standard"
# The commit of innolitics/dicom-standard whose file this script was last run on
# ("Update standard to rev2024b") and that file's git blob id, to catch a different input.
KNOWN_OPTIONS_COMMIT = "8670abdd9ad16c61af5146ef857899699bdd9c5f"
KNOWN_OPTIONS_BLOB = "d4f341cb6e190b3cde305677fd49e6dcea9b6156"
KNOWN_OPTIONS_EDITION = "2024b"
OPTIONS_PATH = "standard/confidentiality_profile_attributes.json"
NOTE_RE = re.compile(r"\s*\(see Note \d+\)\s*$")


def clean_name(name: str) -> str:
    """The attribute name without the table's '(see Note n)' and line breaks."""
    return " ".join(NOTE_RE.sub("", name).split())


def sort_key(ident: str) -> tuple[int, int]:
    """Tag order, patterns at their lowest tag, the private row last."""
    if ident == PRIVATE_ID:
        return (1, 0)
    return (0, int(ident.replace("X", "0"), 16))


def pydicom_entry(ident: str) -> tuple[str | None, str | None]:
    """(keyword, VR) from pydicom's data dictionary, or (None, None) where it lacks the tag."""
    if ident == PRIVATE_ID:
        return None, None
    if "X" in ident:
        entry = RepeatersDictionary.get(ident.lower())
        return (entry[4], entry[0]) if entry else (None, None)
    try:
        vr, _vm, _name, _retired, keyword = get_entry(int(ident, 16))
    except KeyError:
        return None, None
    return keyword, vr


def _tuple_ident(value: tuple[int, ...]) -> str:
    """(0x0010, 0x0010) or dicom-anonymizer's masked (value, value, mask, mask) -> id."""
    if len(value) == 2:
        return f"{value[0]:04X}{value[1]:04X}"
    group, element, group_mask, element_mask = value
    if group_mask != 0xFF00 or element_mask not in (0x0000, 0xFFFF):
        raise SystemExit(f"unexpected tag mask {value!r}")
    element_text = f"{element:04X}" if element_mask == 0xFFFF else "XXXX"
    return f"{group >> 8:02X}XX{element_text}"


def read_basic(path: Path) -> dict[str, tuple[str, str]]:
    """id -> (basic code, name) from a dicomfields module, by parsing its source."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.List)):
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name) or target.id not in BASIC_LISTS:
            continue
        for element in node.value.elts:
            ident = _tuple_ident(ast.literal_eval(element))
            comment = lines[(element.end_lineno or element.lineno) - 1].partition("#")[2]
            if ident in found:
                raise SystemExit(f"{tag_text(ident)} is listed twice in {path}")
            if not comment.strip():
                raise SystemExit(f"{tag_text(ident)} has no name comment in {path}")
            found[ident] = (BASIC_LISTS[target.id], clean_name(comment))
    return found


def read_options(path: Path) -> dict[str, dict[str, Any]]:
    """id -> innolitics row, ids upper-cased like read_basic's (private row id kept)."""
    rows: dict[str, dict[str, Any]] = {}
    for row in json.loads(path.read_text(encoding="utf-8")):
        ident = row["id"] if row["id"] == PRIVATE_ID else row["id"].upper()
        for column in row:
            if column.endswith("Opt") and column not in OPTION_COLUMNS:
                raise SystemExit(f"unknown option column {column}")
            if column in OPTION_COLUMNS and row[column] not in OPTION_CODES:
                raise SystemExit(f"{row['tag']} {column} = {row[column]!r}")
        if row["basicProfile"] not in BASIC_LISTS.values():
            raise SystemExit(f"{row['tag']} basic code {row['basicProfile']!r}")
        rows[ident] = row
    return rows


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def basic_package(path: Path) -> tuple[str, str, str]:
    """(package name, version, file inside it) from the dist-info next to the unpacked package.

    Also checks the file against the wheel's RECORD hash, so the version recorded is the
    version the file came from.
    """
    package_root = path.resolve().parents[2]
    inside = path.resolve().relative_to(package_root).as_posix()
    for dist_info in sorted(package_root.glob("*.dist-info")):
        record = (dist_info / "RECORD").read_text(encoding="utf-8")
        for line in record.splitlines():
            name, _, rest = line.partition(",")
            if name != inside:
                continue
            digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest())
            if rest.split(",")[0] != "sha256=" + digest.rstrip(b"=").decode():
                raise SystemExit(f"{path} differs from its RECORD in {dist_info}")
            metadata = (dist_info / "METADATA").read_text(encoding="utf-8")
            fields = dict(
                line.split(": ", 1) for line in metadata.splitlines()[:20] if ": " in line
            )
            return fields["Name"].replace("_", "-"), fields["Version"], inside
    raise SystemExit(f"no *.dist-info with a RECORD for {inside} in {package_root}")


def merge(
    basic: dict[str, tuple[str, str]], options: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(rows, rule reports, tags whose basic code changed) of the merged table."""
    attributes: dict[str, Attribute] = {}
    for ident in basic.keys() | options.keys():
        name = basic[ident][1] if ident in basic else clean_name(options[ident]["name"])
        attributes[ident] = Attribute(ident, name, pydicom_entry(ident)[1])
    reports = [check_rule(rule, attributes, options) for rule in RULES]
    holding = [rule for rule, report in zip(RULES, reports, strict=True) if report["holds"]]
    rows: list[dict[str, Any]] = []
    changed: list[str] = []
    for ident in sorted(attributes, key=sort_key):
        attr = attributes[ident]
        source_row = options.get(ident)
        keyword, vr = pydicom_entry(ident)
        row: dict[str, Any] = {"tag": tag_text(ident), "name": attr.name, "keyword": keyword}
        row["vr"] = vr
        if ident in basic:
            row["basic"], row["basic_from"] = basic[ident][0], BASIC_SOURCE
            if source_row and source_row["basicProfile"] != row["basic"]:
                changed.append(row["tag"])
                row["basic_in_options_source"] = source_row["basicProfile"]
        else:
            assert source_row is not None
            row["basic"], row["basic_from"] = source_row["basicProfile"], OPTIONS_SOURCE
        if source_row is not None:
            row["options"], row["options_from"] = options_of(source_row), OPTIONS_SOURCE
            row["in_standard_iod"] = source_row["stdCompIOD"] == "Y"
        else:
            row.update(rule_options(attr, row["basic"], holding))
            row["in_standard_iod"] = None
        rows.append(row)
    for rule, report in zip(RULES, reports, strict=True):
        report["applied_to"] = [r["tag"] for r in rows if rule.id in r.get("option_rules", ())]
    return rows, reports, changed


def render(document: dict[str, Any]) -> str:
    """Indented JSON with one row per line, so that a change of the table diffs by row."""
    head = {key: value for key, value in document.items() if key != "rows"}
    text = json.dumps(head, indent=2, ensure_ascii=False)[:-2]
    rows = ",\n".join("    " + json.dumps(row, ensure_ascii=False) for row in document["rows"])
    return f'{text},\n  "rows": [\n{rows}\n  ]\n}}\n'


def build(args: argparse.Namespace) -> dict[str, Any]:
    basic_path, options_path = Path(args.basic), Path(args.options)
    edition_match = re.fullmatch(r"dicomfields_(\d{4}[a-e]?)\.py", basic_path.name)
    if not edition_match:
        raise SystemExit(f"cannot tell the edition from {basic_path.name}")
    options_bytes = options_path.read_bytes()
    blob = git_blob_id(options_bytes)
    if args.options_commit == KNOWN_OPTIONS_COMMIT and blob != KNOWN_OPTIONS_BLOB:
        raise SystemExit(
            f"{options_path} is not the file of commit {KNOWN_OPTIONS_COMMIT};"
            " give --options-commit and --options-edition"
        )
    package, version, inside = basic_package(basic_path)
    rows, reports, changed = merge(read_basic(basic_path), read_options(options_path))
    edition = edition_match.group(1)
    return {
        "table": "PS3.15 Table E.1-1 Application Level Confidentiality Profile Attributes",
        "edition": edition,
        "sources": {
            "basic": {
                "package": package,
                "version": version,
                "file": inside,
                "sha256": hashlib.sha256(basic_path.read_bytes()).hexdigest(),
                "edition": edition,
            },
            "options": {
                "repo": OPTIONS_SOURCE,
                "commit": args.options_commit,
                "path": OPTIONS_PATH,
                "git_blob": blob,
                "edition": args.options_edition,
            },
        },
        "generated_by": "archive/deid/data/make_confidentiality_profile.py",
        "note": (
            f"Basic codes are edition {edition}'s (from {package} {version}) wherever it lists"
            f" the attribute. Option codes are edition {args.options_edition}'s (from"
            f" {OPTIONS_SOURCE}); for attributes that edition lacks they come only from the"
            " holding rules below, or are left blank with options_from null. Option codes of"
            f" older attributes may have changed since {args.options_edition}; the sources"
            " have no machine-readable copy of the newer option columns."
        ),
        "option_columns": OPTION_COLUMNS,
        "rules": reports,
        "changed_since_options_source": changed,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Builds confidentiality_profile.json.")
    parser.add_argument("--basic", required=True, help="dicomanonymizer's dicomfields_*.py")
    parser.add_argument("--options", required=True, help="confidentiality_profile_attributes.json")
    parser.add_argument("--options-commit", default=KNOWN_OPTIONS_COMMIT)
    parser.add_argument("--options-edition", default=KNOWN_OPTIONS_EDITION)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    document = build(args)
    Path(args.out).write_text(render(document), encoding="utf-8")
    rules = ", ".join(f"{r['id']}={'holds' if r['holds'] else 'fails'}" for r in document["rules"])
    print(f"{len(document['rows'])} rows; rules: {rules}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
