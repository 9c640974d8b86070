"""Attribute edits like DCMTK dcmodify and dcm4che xml2dcm "update with XML".

- ``paths``: the attribute path syntax (keywords, tags, ``[n]``/``[*]`` items, private
  elements by creator ``(0009,"ACME 1.0",10)``); ``parse_path`` / ``format_path``.
- ``parse``: changes from a form, a dcmodify-like text (a VR may precede ``=``:
  ``(0009,"ACME 1.0",10) LO=value``; a form row has ``vr``), a PS3.19 XML or PS3.18 JSON
  update document.
- ``apply``: ``apply_changes`` / ``check_changes`` on a pydicom Dataset, all or nothing;
  ``values``, ``type1``, ``validate`` and ``charsets`` say what is refused and why.
- ``files``: ``edit_file`` (same transfer syntax, atomic write); ``uids``: ``UidMap`` for
  consistent new UIDs across a set; ``commands``: the dcmodify / xml2dcm lines.

Every refusal is ``EditRefused`` with a message for a person, raised before anything is
written.
"""

from archive.objects.edit.apply import apply_changes, check_changes
from archive.objects.edit.changes import AppliedChange, AttributeChange, EditAction, EditRefused
from archive.objects.edit.commands import edit_command_lines
from archive.objects.edit.files import edit_file
from archive.objects.edit.parse import (
    changes_from_dcmodify,
    changes_from_form,
    changes_from_json,
    changes_from_xml,
)
from archive.objects.edit.paths import AttributePath, PrivateElement, format_path, parse_path
from archive.objects.edit.uids import NewUids, UidMap

__all__ = [
    "AppliedChange",
    "AttributeChange",
    "AttributePath",
    "EditAction",
    "EditRefused",
    "NewUids",
    "PrivateElement",
    "UidMap",
    "apply_changes",
    "changes_from_dcmodify",
    "changes_from_form",
    "changes_from_json",
    "changes_from_xml",
    "check_changes",
    "edit_command_lines",
    "edit_file",
    "format_path",
    "parse_path",
]
