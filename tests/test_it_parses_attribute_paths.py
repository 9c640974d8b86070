"""Attribute paths in every accepted spelling name the tags pydicom's dictionary gives;
the canonical text reads back to the same path; bad paths say what is wrong."""

from __future__ import annotations

import pytest
from pydicom.datadict import tag_for_keyword

from archive.objects.edit import (
    EditRefused,
    PrivateElement,
    changes_from_dcmodify,
    format_path,
    parse_path,
)
from archive.objects.edit.paths import ALL_ITEMS, BadAttributePath


@pytest.mark.parametrize("text", ["ReferencedStudySequence[0].ReferencedSOPInstanceUID",
                                  "(0008,1110)[0].(0008,1155)", "0008,1110[0].0008,1155",
                                  "00081110[0].00081155"])
def test_spellings_name_the_same_tags(text: str) -> None:
    path = parse_path(text)
    assert [s.element for s in path.steps] == [tag_for_keyword("ReferencedStudySequence"),
                                               tag_for_keyword("ReferencedSOPInstanceUID")]
    assert format_path(path) == "(0008,1110)[0].(0008,1155)"
    assert parse_path(format_path(path)) == path


def test_private_and_wildcard() -> None:
    path = parse_path('(0009,"ACME 1.0",10)')
    assert path.leaf.element == PrivateElement(0x0009, "ACME 1.0", 0x10)
    assert parse_path("(0009,ACME 1.0,10)") == path  # the shell ate the quotes
    assert parse_path(format_path(path)) == path
    assert parse_path("(0008,1110)[*].(0008,1150)").steps[0].item == ALL_ITEMS


@pytest.mark.parametrize("text", ["", "NotAKeyword", "(0008,1110).(0008,1155)",
                                  '(0008,"X",10)', "(0008,1110)[0", "a..b"])
def test_bad_paths_are_refused(text: str) -> None:
    with pytest.raises(BadAttributePath):
        parse_path(text)


def test_dcmodify_lines_with_vr_and_quotes() -> None:
    changes = changes_from_dcmodify(
        "-i '(0009,\"ACME 1.0\",10) LO=a b'\n(0010,0010)=Doe^John  # insert\n-e PatientAge")
    assert changes[0].vr == "LO" and changes[0].value == "a b"
    assert changes[1].action == "insert" and changes[1].value == "Doe^John"
    assert changes[2].action == "remove"
    with pytest.raises(EditRefused, match="line 1"):
        changes_from_dcmodify("-i PatientID=1 extra words")
