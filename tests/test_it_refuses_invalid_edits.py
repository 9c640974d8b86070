"""Invalid edits are refused before anything is written, with a message naming the
attribute; the source file is untouched and no destination appears. Each refused value
is one PS3.5 / PS3.3 forbids; the rule is stated beside it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydicom import dcmread

from archive.objects.edit import (
    EditRefused,
    apply_changes,
    changes_from_dcmodify,
    changes_from_form,
    changes_from_json,
    check_changes,
    edit_file,
)
from tests.edit_helpers import CORPUS, copy_of, dcmdump_lines

REFUSED = [
    ("-m StudyDate=2024-13-45", "StudyDate"),  # DA is YYYYMMDD, a real date
    ("-m StudyDate=20240231", "StudyDate"),  # no 31 February
    ("-m Modality=ct", "Modality"),  # CS: upper case
    ("-m Modality=ABCDEFGHIJKLMNOPQ", "Modality"),  # CS: 16 characters at most
    ("-m SOPInstanceUID=1.2.abc", "SOPInstanceUID"),  # UI: digits and dots
    ("-i StudyDescription=" + "x" * 65, "StudyDescription"),  # LO: 64 characters
    ("-i AccessionNumber=12345678901234567", "AccessionNumber"),  # SH: 16 characters
    ("-m Rows=70000", "Rows"),  # US: 0..65535
    ("-i SeriesNumber=99999999999", "SeriesNumber"),  # IS: 32 bits, 12 characters
    ("-i PatientAge=24Y", "PatientAge"),  # AS: nnnD/W/M/Y
    ("-i PatientName=a=b=c=d", "PatientName"),  # PN: 3 component groups at most
    ("-m PatientName=A\\\\B", "PatientName"),  # PatientName has VM 1
    ("-e SOPInstanceUID", "SOPInstanceUID"),  # Type 1, SOP Common
    ("-e StudyInstanceUID", "StudyInstanceUID"),
    ("-e Modality", "Modality"),
    ("-i SeriesInstanceUID=", "SeriesInstanceUID"),  # Type 1 may not be empty
    ("-e Rows", "Rows"),  # Image Pixel module
    ("-e PixelData", "PixelData"),
    ("-e ConversionType", "ConversionType"),  # SC Equipment
    ("-m TransferSyntaxUID=1.2.840.10008.1.2", "Transfer Syntax UID"),
    ("-m MediaStorageSOPInstanceUID=1.2.3", "Media Storage SOP Instance UID"),
    ("-e (0002,0003)", "Media Storage SOP Instance UID"),
    ("-m Rows=50", "Rows"),  # Pixel Data holds 100 rows
    ("-m BitsStored=7", "BitsStored"),  # HighBit stays 7
    ("-m PatientBirthName=x", "PatientBirthName"),  # modify needs it present
    ("-i (0009,1010)=x", "(0009,1010)"),  # raw private tag without a creator
    ('-i (0009,"ACME",10)=x', "VR"),  # unknown private element: VR needed
    ("-i ReferencedStudySequence[*].ReferencedSOPInstanceUID=1.2", "[*]"),
    ("-m PixelData=00", "PixelData"),  # written by a conversion, never typed
    ("-i FloatPixelData=00", "FloatPixelData"),
    ("-i (7FE0,0001)=00", "ExtendedOffsetTable"),
    ("-ea PixelData", "PixelData"),
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("line", "named"), REFUSED)
def test_refused_with_the_attribute_named(line: str, named: str, tmp_path: Path) -> None:
    source = copy_of("SC_rgb.dcm", tmp_path)
    digest = _digest(source)
    destination = tmp_path / "out" / "edited.dcm"
    with pytest.raises(EditRefused) as refused:
        edit_file(source, destination, changes_from_dcmodify(line))
    assert named in refused.value.message
    assert _digest(source) == digest
    assert not destination.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_refusal_leaves_the_data_set_as_it_was() -> None:
    ds = dcmread(CORPUS / "SC_rgb.dcm")
    before = ds.to_json_dict()
    changes = changes_from_dcmodify(
        '-i PatientID=NEW\n-i "(0008,1110)[2].(0008,1155)=1.2.3"\n'
        '-i (0009,"ACME",10) LO=x\n-e SOPInstanceUID')
    with pytest.raises(EditRefused):
        apply_changes(ds, changes)
    assert ds.to_json_dict() == before
    check_changes(ds, changes[:3])  # fine without the removal, and still nothing changed
    assert ds.to_json_dict() == before


def test_encapsulated_pixel_description_is_not_edited(tmp_path: Path) -> None:
    with pytest.raises(EditRefused, match="compressed"):
        edit_file(CORPUS / "JLSL_08_07_0_1F.dcm", tmp_path / "x.dcm",
                  changes_from_dcmodify("-m Columns=64"))


@pytest.mark.parametrize("name", ["SC_rgb.dcm", "JLSL_08_07_0_1F.dcm"])
@pytest.mark.parametrize("line", ["-m PixelData=00\\01", "-i PixelData=00", "-e PixelData"])
def test_pixel_data_is_never_edited_as_typed_bytes(name: str, line: str,
                                                    tmp_path: Path) -> None:
    """Uncompressed (a wrong length would break the file) or compressed (the fragments
    would be lost): refused, whatever the length given."""
    with pytest.raises(EditRefused, match=r"PixelData .* is not edited here"):
        edit_file(CORPUS / name, tmp_path / "x.dcm", changes_from_dcmodify(line))
    assert not (tmp_path / "x.dcm").exists()


def test_parse_errors_name_the_line_or_row() -> None:
    with pytest.raises(EditRefused, match="line 2"):
        changes_from_dcmodify("-i PatientID=1\n-x PatientID=2")
    with pytest.raises(EditRefused, match="line 1"):
        changes_from_dcmodify('-i "PatientID=1')
    with pytest.raises(EditRefused, match="NotAKeyword"):
        changes_from_dcmodify("-i NotAKeyword=1")
    with pytest.raises(EditRefused, match="row 2"):
        changes_from_form([{"path": "PatientID", "action": "insert", "value": "1"},
                           {"path": "PatientID", "action": "explode"}])
    with pytest.raises(EditRefused, match="JSON"):
        changes_from_json(b"{not json")


def test_non_ascii_into_an_ascii_data_set_switches_to_utf8(tmp_path: Path) -> None:
    """Decision: the data set becomes ISO_IR 192 and its text is re-encoded (checked with
    dcmdump +U8, which converts from the declared set)."""
    source = CORPUS / "JPEG2000_UNC.dcm"
    assert "SpecificCharacterSet" not in dcmread(source)
    out = tmp_path / "utf8.dcm"
    applied = edit_file(source, out, changes_from_dcmodify("-i PatientName=Müller^Jörg"))
    assert any(change.keyword == "SpecificCharacterSet" for change in applied)
    ds = dcmread(out)
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "Müller^Jörg"
    assert any("Müller^Jörg" in line for line in dcmdump_lines(out))


@pytest.mark.parametrize(("sop_class", "extra", "line", "module"), [
    ("1.2.840.10008.5.1.4.1.1.77.1.4", {}, "-e ImageType", "VL Image"),
    ("1.2.840.10008.5.1.4.1.1.128", {"FrameReferenceTime": 0, "ImageIndex": 1},
     "-e ImageIndex", "PET Image"),
    ("1.2.840.10008.5.1.4.1.1.104.1", {"EncapsulatedDocument": b"%PDF",
                                        "MIMETypeOfEncapsulatedDocument": "application/pdf",
                                        "BurnedInAnnotation": "NO"},
     "-e InstanceNumber", "Encapsulated Document"),
    ("1.2.840.10008.5.1.4.1.1.88.59", {"ContentDate": "20240101", "ContentTime": "1200"},
     "-e ContentDate", "Key Object Document"),
    ("1.2.840.10008.5.1.4.1.1.88.11", {"CompletionFlag": "COMPLETE",
                                        "VerificationFlag": "UNVERIFIED",
                                        "ContentDate": "20240101", "ContentTime": "1200"},
     "-e ContentTime", "SR Document General"),
])
def test_type_1_attributes_of_the_iods_the_console_makes(
        sop_class: str, extra: dict[str, object], line: str, module: str) -> None:
    """PS3.3: the module's Type 1 attributes, present in the data set, may not be removed."""
    ds = dcmread(CORPUS / "SC_rgb.dcm")
    ds.SOPClassUID = sop_class
    ds.InstanceNumber = 1
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    with pytest.raises(EditRefused) as refused:
        check_changes(ds, changes_from_dcmodify(line))
    assert module in refused.value.message
