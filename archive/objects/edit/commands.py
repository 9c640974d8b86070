"""The same edit with the peer tools, as (tool set, command) lines.

DCMTK: ``dcmodify`` edits in place, so the line copies first; -m/-i/-e/-ma/-ea/-ep as
given, tag paths as dcmodify writes them, -gst/-gse/-gin for new UIDs (dcmodify draws them
per file: a set edited file by file does not share them as ``UidMap`` does), -imt because
removing an absent attribute is not an error here. dcmodify addresses private elements by
raw tag: an element named by creator is written in block 10 with its creator inserted
first (right when the creator holds block 10 or none does).

dcm4che: ``xml2dcm -i in -x update.xml -o out`` merges a PS3.19 document; it only sets
values (it has no removal, no "modify only if present" and no UID option), and a sequence
in the document replaces the whole sequence of the file (its items as written), so the
line is given when every change is an insert or modify of a top-level attribute and the
UIDs stay. Otherwise the dcm4che line says in words (a shell comment) why there is none.
"""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from pydicom.datadict import dictionary_keyword, dictionary_VR

from archive.objects.edit.changes import AttributeChange, EditAction
from archive.objects.edit.paths import AttributePath, PrivateElement, tag_text
from archive.objects.edit.uids import NewUids

BLOCK = 0x10


def edit_command_lines(changes: Iterable[AttributeChange], uids: NewUids | None,
                       source: str, destination: str) -> list[tuple[str, str]]:
    listed = list(changes)
    lines = [("DCMTK", _dcmodify(listed, uids, source, destination))]
    reason = _no_xml2dcm(listed, uids)
    if reason is not None:
        lines.append(("dcm4che", f"# no dcm4che line: {reason}; use the DCMTK line"))
        return lines
    lines.append(("dcm4che", f"xml2dcm -i {shlex.quote(source)} -x - -o "
                             f"{shlex.quote(destination)} <<'XML'\n{_xml_update(listed)}\nXML"))
    return lines


def _no_xml2dcm(changes: list[AttributeChange], uids: NewUids | None) -> str | None:
    """Why xml2dcm (``-i``/``-x``/``-o``, a merge that only sets values) cannot make this
    edit; None when it can."""
    if uids is not None and uids.any:
        return "xml2dcm has no option to generate new UIDs"
    for change in changes:
        action, path = EditAction(change.action), change.attribute_path
        if action == EditAction.REMOVE_PRIVATE or path is None:
            return "xml2dcm only sets values, it cannot remove the private elements"
        if action in (EditAction.REMOVE, EditAction.REMOVE_ALL):
            return f"xml2dcm only sets values, it cannot remove {_named(path)}"
        if action == EditAction.MODIFY_ALL:
            return (f"xml2dcm sets attributes where the document puts them, not "
                    f"{_named(path)} at every depth")
        if len(path.steps) != 1 or path.names_item:
            return (f"{path} is inside a sequence item, and a sequence in an xml2dcm update "
                    "replaces the whole sequence with the items it writes")
    return None


def _dcmodify(changes: list[AttributeChange], uids: NewUids | None, source: str,
              destination: str) -> str:
    words = ["dcmodify", "-nb", "-imt"]
    creators: list[str] = []
    for change in changes:
        action = EditAction(change.action)
        path = change.attribute_path
        if action == EditAction.REMOVE_PRIVATE or path is None:
            words.append("-ep")
            continue
        for step in path.steps:
            if isinstance(step.element, PrivateElement):
                element = step.element
                creator = f"({element.group:04X},00{BLOCK:02X})={element.creator}"
                if creator not in creators and action.sets_value:
                    creators.append(creator)
                    words += ["-i", creator]
        text = _dcmtk_path(path)
        if action.sets_value:
            text += f"={change.value or ''}"
        words += [action.dcmodify_option, text]
    if uids is not None:
        words += [flag for wanted, flag in ((uids.study, "-gst"), (uids.series, "-gse"),
                                            (uids.instance, "-gin")) if wanted]
    copy = f"cp {shlex.quote(source)} {shlex.quote(destination)}"
    return f"{copy} && {' '.join(shlex.quote(word) for word in words)} " \
           f"{shlex.quote(destination)}"


def _dcmtk_path(path: AttributePath) -> str:
    parts = []
    for step in path.steps:
        element = step.element
        tag = element.tag_in_block(BLOCK) if isinstance(element, PrivateElement) else element
        text = tag_text(tag)
        if step.item is not None:
            text += f"[{step.item}]"
        parts.append(text)
    return ".".join(parts)


def _named(path: AttributePath) -> str:
    """A path for a sentence: a dictionary element with its keyword first."""
    element = path.leaf.element
    if len(path.steps) == 1 and not isinstance(element, PrivateElement):
        try:
            return f"{dictionary_keyword(element)} {path}"
        except KeyError:
            pass
    return str(path)


def _xml_update(changes: list[AttributeChange]) -> str:
    """The PS3.19 update document of top-level sets (``_no_xml2dcm`` said it can be)."""
    root = ET.Element("NativeDicomModel")
    for change in changes:
        path = change.attribute_path
        assert path is not None
        element = path.leaf.element
        attrs: dict[str, str] = {}
        if isinstance(element, PrivateElement):
            attrs["tag"] = f"{element.group:04X}00{element.offset:02X}"
            attrs["privateCreator"] = element.creator
            vr = change.vr or "UN"
        else:
            attrs["tag"] = f"{element:08X}"
            try:
                vr = change.vr or str(dictionary_VR(element)).split(" or ")[0]
                attrs["keyword"] = dictionary_keyword(element)
            except KeyError:
                vr = change.vr or "UN"
        attrs["vr"] = vr
        node = ET.SubElement(root, "DicomAttribute", attrs)
        for number, value in enumerate((change.value or "").split("\\"), start=1):
            if not change.value:
                break
            if vr == "PN":
                person = ET.SubElement(node, "PersonName", {"number": str(number)})
                alphabetic = ET.SubElement(person, "Alphabetic")
                names = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
                for name, part in zip(names, value.split("^"), strict=False):
                    if part:
                        ET.SubElement(alphabetic, name).text = part
            else:
                ET.SubElement(node, "Value", {"number": str(number)}).text = value
    return ET.tostring(root, encoding="unicode")
