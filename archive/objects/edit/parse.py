"""Where changes come from: a browser form, a dcmodify-like text, a PS3.19 XML or a PS3.18
JSON update document. Each raises EditRefused naming the row, line or attribute.

dcmodify-like text, one change per line, quoted like a shell (``shlex``), ``#`` comments::

    -m "(0010,0010)=Doe^John"          modify (must exist)      also --modify
    -i PatientID=123                   insert or overwrite      also --insert
    -e (0010,1000)                     remove                   also --erase
    -ma "(0008,0080)=Hospital"         modify at any depth      also --modify-all
    -ea (0010,1000)                    remove at any depth      also --erase-all
    -ep                                remove every private element
    (0010,0010)=Doe^John               no option: insert
    -i '(0009,"ACME 1.0",10) LO=v'     a VR before "=" for an element the dictionary lacks
    -i (0009,"ACME 1.0",10) LO=v       the same, unquoted (two words)

XML and JSON updates (the model is dcm4che's ``xml2dcm -i in.dcm -x update.xml`` and
``json2dcm -i in.dcm -j update.json``): every attribute of the document is inserted or
overwritten; an attribute without a value sets an empty value. A sequence in the document
replaces the whole sequence (dcm4che's reader starts a new sequence for it:
``Attributes.newSequence``), its items built from the document's items. Specific
Character Set in a document is ignored (a document's text is Unicode; ``charsets``
decides the target's set); private elements are matched by their creator.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from archive.inspect.nativexml import InvalidNativeXml, from_native_xml
from archive.objects.edit.changes import AttributeChange, EditAction, EditRefused
from archive.objects.edit.paths import (
    AttributePath,
    BadAttributePath,
    PathStep,
    PrivateElement,
    parse_path,
    tag_text,
)
from archive.objects.edit.values import KNOWN_VRS, text_of

OPTIONS = {"-m": EditAction.MODIFY, "--modify": EditAction.MODIFY,
           "-i": EditAction.INSERT, "--insert": EditAction.INSERT,
           "-e": EditAction.REMOVE, "--erase": EditAction.REMOVE,
           "-ma": EditAction.MODIFY_ALL, "--modify-all": EditAction.MODIFY_ALL,
           "-ea": EditAction.REMOVE_ALL, "--erase-all": EditAction.REMOVE_ALL,
           "-ep": EditAction.REMOVE_PRIVATE, "--erase-private": EditAction.REMOVE_PRIVATE}
UID_OPTIONS = {"-gst", "-gse", "-gin", "--gen-stud-uid", "--gen-ser-uid", "--gen-inst-uid"}
CHARSET_TAG = 0x00080005


def changes_from_form(rows: list[dict[str, Any]]) -> list[AttributeChange]:
    """Rows of a browser form: ``path``, ``action`` (modify/insert/remove…), ``value``,
    optional ``vr``. Rows without a path are skipped (empty form lines)."""
    changes = []
    for number, row in enumerate(rows, start=1):
        action_text = str(row.get("action") or "insert").strip().lower()
        try:
            action = EditAction(action_text)
        except ValueError:
            raise EditRefused(f"row {number}: {action_text!r} is not an action "
                              f"({', '.join(a.value for a in EditAction)})") from None
        path_text = str(row.get("path") or "").strip()
        if not path_text and action != EditAction.REMOVE_PRIVATE:
            continue
        vr = str(row.get("vr") or "").strip().upper() or None
        value = row.get("value")
        changes.append(_change(f"row {number}", path_text or None, action,
                               None if value is None else str(value), vr))
    return changes


def _change(where: str, path_text: str | None, action: EditAction, value: str | None,
            vr: str | None) -> AttributeChange:
    if vr is not None and vr not in KNOWN_VRS:
        raise EditRefused(f"{where}: {vr!r} is not a DICOM VR")
    path = None
    if path_text is not None:
        try:
            path = parse_path(path_text)
        except BadAttributePath as exc:
            raise EditRefused(f"{where}: {exc}") from exc
    if action.sets_value and value is None:
        value = ""
    return AttributeChange(path, action, value if action.sets_value else None, vr)


def changes_from_dcmodify(text: str) -> list[AttributeChange]:
    changes = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"line {number}"
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise EditRefused(f"{where}: {exc} ({line.strip()!r})") from exc
        if not words:
            continue
        if words[0] == "dcmodify":
            raise EditRefused(f"{where}: one change per line, without 'dcmodify' and files")
        if words[0] in UID_OPTIONS:
            raise EditRefused(f"{where}: {words[0]} is the 'new UIDs' option of the edit, "
                              "not a change line")
        if words[0].startswith("-"):
            if words[0] not in OPTIONS:
                raise EditRefused(f"{where}: {words[0]!r} is not an option here "
                                  f"({', '.join(o for o in OPTIONS if o.count('-') == 1)})")
            action, arguments = OPTIONS[words[0]], words[1:]
        else:
            action, arguments = EditAction.INSERT, words
        changes.append(_from_arguments(where, action, arguments))
    return changes


def _from_arguments(where: str, action: EditAction, arguments: list[str]) -> AttributeChange:
    if action == EditAction.REMOVE_PRIVATE:
        if arguments:
            raise EditRefused(f"{where}: -ep takes no argument")
        return AttributeChange(None, action)
    if not arguments:
        raise EditRefused(f"{where}: {action.dcmodify_option} needs an attribute")
    if len(arguments) == 2 and "=" in arguments[1] and "=" not in arguments[0]:
        arguments = [f"{arguments[0]} {arguments[1]}"]
    if len(arguments) != 1:
        raise EditRefused(f"{where}: one attribute per line; quote a value with spaces "
                          f"(got {len(arguments)} words)")
    argument = arguments[0]
    if not action.sets_value:
        if "=" in _outside_quotes(argument):
            raise EditRefused(f"{where}: {action.dcmodify_option} takes an attribute "
                              "without a value")
        return _change(where, argument, action, None, None)
    position = _outside_quotes(argument).find("=")
    if position < 0:
        if action == EditAction.INSERT:
            return _change(where, argument, action, "", None)
        raise EditRefused(f"{where}: {action.dcmodify_option} needs attribute=value")
    left, value = argument[:position].strip(), argument[position + 1:]
    vr = None
    head, _, tail = left.rpartition(" ")
    if head and tail.upper() in KNOWN_VRS:
        left, vr = head.strip(), tail.upper()
    return _change(where, left, action, value, vr)


def _outside_quotes(text: str) -> str:
    """``text`` with quoted parts blanked (same length), to find separators."""
    out, quoted = [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        out.append(" " if quoted or char == '"' else char)
    return "".join(out)


def changes_from_xml(data: bytes) -> list[AttributeChange]:
    try:
        ds = from_native_xml(data)
    except InvalidNativeXml as exc:
        raise EditRefused(f"the XML update: {exc}") from exc
    return _from_dataset(ds)


def changes_from_json(data: bytes) -> list[AttributeChange]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EditRefused(f"the JSON update is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise EditRefused("the JSON update must be one object of attributes (PS3.18 F.2)")
    try:
        ds = Dataset.from_json(document)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise EditRefused(f"the JSON update is not PS3.18 DICOM JSON: {exc}") from exc
    return _from_dataset(ds)


def _from_dataset(ds: Dataset, prefix: tuple[PathStep, ...] = ()) -> list[AttributeChange]:
    changes: list[AttributeChange] = []
    for tag in [int(t) for t in ds.keys()]:  # noqa: SIM118 - keys() does not decode
        if (tag >> 16) % 2 and 0x0010 <= tag & 0xFFFF <= 0x00FF:
            continue  # a private creator: reserved by the elements that need it
        if tag == CHARSET_TAG or tag & 0xFFFF == 0:
            continue
        try:
            element: DataElement = ds[tag]
        except (KeyError, ValueError) as exc:
            raise EditRefused(f"attribute {tag_text(tag)}: {exc}") from exc
        ref = _element_ref(ds, tag)
        path = AttributePath((*prefix, PathStep(ref)))
        if element.VR == "SQ":
            changes.append(AttributeChange(path, EditAction.INSERT, "", "SQ"))
            for index, item in enumerate(element.value):
                item_path = (*prefix, PathStep(ref, index))
                changes.append(AttributeChange(AttributePath(item_path), EditAction.INSERT))
                changes += _from_dataset(item, item_path)
            continue
        vr = str(element.VR)
        changes.append(AttributeChange(path, EditAction.INSERT, text_of(element),
                                       vr if (tag >> 16) % 2 or " or " not in vr else None))
    return changes


def _element_ref(ds: Dataset, tag: int) -> int | PrivateElement:
    if (tag >> 16) % 2 and tag & 0xFFFF >= 0x1000:
        creator = ds.get((tag & 0xFFFF0000) | ((tag >> 8) & 0xFF))
        if creator is not None and str(creator.value or "").strip():
            return PrivateElement(tag >> 16, str(creator.value).strip(), tag & 0xFF)
    return tag
