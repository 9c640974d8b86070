"""The PHI scan (archive.deid.phi) finds an input's identifying values wherever they were left
in an output file — a private element, a sequence three levels down, the file meta, an
overlay's comments, the file's name — says where, and leaves the pixel data alone.

The files are written with pydicom, each value planted by hand; the byte offsets a finding
gives are checked against the file's bytes, and the element it names against dcmdump."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from archive.deid.phi import (
    PhiFinding,
    PhiValue,
    identifying_values,
    scan_bytes,
    scan_file,
    uid_values,
)

NAME, PATIENT_ID, BIRTH = "Whitfield^Margaret", "STM-4471920", "19630214"
HOSPITAL_AE, ACCESSION, STUDY_DATE = "STMARYS_CT", "ACC7731", "20240117"


def clean_dataset(syntax: str = ExplicitVRLittleEndian) -> Dataset:
    """A small Secondary Capture image holding nothing identifying."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID = "OT", "ANONYMOUS^0001", "ANON0001"
    ds.StationName, ds.ImageType = "SCANNER", ["DERIVED", "SECONDARY"]
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(64)
    return ds


def the_input() -> Dataset:
    """The input the output came from: the identifying values the scan looks for."""
    ds = clean_dataset()
    ds.file_meta.SourceApplicationEntityTitle = HOSPITAL_AE
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = NAME, PATIENT_ID, BIRTH
    ds.AccessionNumber, ds.StudyDate = ACCESSION, STUDY_DATE
    ds.AcquisitionDateTime = "20240117093015"
    return ds


def write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def dcmdump_tags(path: Path) -> str:
    """DCMTK's dump of the file, file meta included."""
    dumped = subprocess.run(["dcmdump", str(path)], capture_output=True, text=True,
                            timeout=60, check=True)
    return dumped.stdout


def assert_where(findings: list[PhiFinding], text: str, path: Path, tag: str) -> None:
    """Some finding is of ``text``, at a byte offset that holds it, in the element ``tag``
    (which dcmdump sees in the file)."""
    data = path.read_bytes()
    hits = [f for f in findings if f.value.text == text and f.where.endswith(f"in {tag}")]
    assert hits, (text, tag, findings)
    for hit in hits:
        at = int(hit.where.split()[1])
        assert data[at : at + len(text)].lower() in {text.lower().encode(),
                                                       text.replace("^", " ").lower().encode()}
    assert tag.lower() in dcmdump_tags(path).lower()


def test_a_clean_output_gives_nothing(tmp_path: Path) -> None:
    output = write(clean_dataset(), tmp_path / "clean.dcm")
    assert scan_file(output, identifying_values(the_input())) == []


def test_it_collects_the_values_a_scan_looks_for() -> None:
    values = {v.text: v.source for v in identifying_values(the_input())}
    assert values[NAME] == "PatientName"
    assert {"Whitfield", "Margaret", PATIENT_ID, BIRTH, ACCESSION, STUDY_DATE} <= set(values)
    assert values[HOSPITAL_AE] == "SourceApplicationEntityTitle"
    assert values["20240117"] in {"StudyDate", "AcquisitionDateTime"}
    assert "ANONYMOUS^0001" not in values and "SCANNER" not in values


def test_retained_dates_leave_names_and_the_birth_date(tmp_path: Path) -> None:
    values = {v.text for v in identifying_values(the_input(), retained_dates=True)}
    assert STUDY_DATE not in values
    assert {NAME, PATIENT_ID, BIRTH, ACCESSION} <= values


def test_it_finds_the_name_in_a_private_element(tmp_path: Path) -> None:
    ds = clean_dataset()
    block = ds.private_block(0x0029, "STMARYS PRIVATE", create=True)
    block.add_new(0x01, "LO", NAME)
    block.add_new(0x02, "SH", PATIENT_ID)
    output = write(ds, tmp_path / "private.dcm")
    findings = scan_file(output, identifying_values(the_input()))
    assert_where(findings, NAME, output, "(0029,1001)")
    assert_where(findings, PATIENT_ID, output, "(0029,1002)")


def test_it_finds_a_name_three_sequences_down(tmp_path: Path) -> None:
    ds = clean_dataset()
    person = Dataset()
    person.ValueType, person.PersonName = "PNAME", NAME
    level2 = Dataset()
    level2.ContentSequence = Sequence([person])
    level1 = Dataset()
    level1.ContentSequence = Sequence([level2])
    ds.ContentSequence = Sequence([level1])
    output = write(ds, tmp_path / "nested.dcm")
    assert_where(scan_file(output, identifying_values(the_input())), NAME, output, "(0040,A730)")


def test_it_finds_the_hospital_in_the_file_meta(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.file_meta.SourceApplicationEntityTitle = HOSPITAL_AE
    output = write(ds, tmp_path / "meta.dcm")
    findings = scan_file(output, identifying_values(the_input()))
    assert_where(findings, HOSPITAL_AE, output, "(0002,0016)")
    assert scan_file(output, identifying_values(the_input(), file_meta=False)) == []


def test_it_finds_the_patient_in_overlay_comments(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.add_new(0x60004000, "LT", "Margaret Whitfield, born 14.02.1963, left hip")
    output = write(ds, tmp_path / "overlay.dcm")
    findings = scan_file(output, identifying_values(the_input()))
    assert_where(findings, "Margaret", output, "(6000,4000)")
    assert_where(findings, "Whitfield", output, "(6000,4000)")


def test_it_finds_the_patient_id_in_the_file_name(tmp_path: Path) -> None:
    output = write(clean_dataset(), tmp_path / f"{PATIENT_ID}_1.dcm")
    findings = scan_file(output, identifying_values(the_input()))
    assert [f.where for f in findings] == ["file name"]
    assert findings[0].value == PhiValue("PatientID", PATIENT_ID)
    assert scan_file(output, identifying_values(the_input()), name="1.dcm") == []


def test_case_and_spaces_do_not_hide_a_name(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.PatientComments = "whitfield margaret"
    ds.ImageComments = "MARGARET WHITFIELD"
    output = write(ds, tmp_path / "case.dcm")
    findings = scan_file(output, identifying_values(the_input()))
    assert_where(findings, "Whitfield", output, "(0010,4000)")
    assert_where(findings, "Margaret", output, "(0020,4000)")


def test_a_date_is_found_inside_a_datetime_but_a_name_not_inside_a_word(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.ContentDate = "20240118"
    ds.AcquisitionDateTime = "20240117101500"
    ds.StationName = "XWHITFIELDS"  # a longer word is not the name
    output = write(ds, tmp_path / "dt.dcm")
    findings = scan_file(output, identifying_values(the_input()))
    assert {f.value.text for f in findings} == {STUDY_DATE}
    assert_where(findings, STUDY_DATE, output, "(0008,002A)")


@pytest.mark.parametrize("syntax", [ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian])
def test_it_reads_big_endian_and_deflated_files(tmp_path: Path, syntax: str) -> None:
    ds = clean_dataset(syntax)
    ds.OperatorsName = NAME
    ds.PixelData = NAME.encode() + bytes(64 - len(NAME))
    output = write(ds, tmp_path / "syntax.dcm")
    findings = scan_file(output, identifying_values(the_input()))
    assert {f.value.text for f in findings} >= {NAME}
    assert all(f.where.endswith("in (0008,1070)") for f in findings), findings


def test_values_in_the_pixel_data_are_not_reported(tmp_path: Path) -> None:
    """The pixel bytes are the image's, left as they were: a byte pattern there is no text
    PHI. The same bytes in any other element are reported."""
    pattern = f"{NAME} {PATIENT_ID} {STUDY_DATE} ".encode()
    ds = clean_dataset()
    ds.PixelData = (pattern * 4)[:64].ljust(64, b"\0")
    output = write(ds, tmp_path / "native.dcm")
    assert scan_file(output, identifying_values(the_input())) == []
    assert {f.value.text for f in scan_bytes(output.read_bytes(), [
        PhiValue("PatientID", PATIENT_ID)])} == {PATIENT_ID}
    ds.add_new(0xFFFCFFFC, "OB", pattern)  # an element after the pixel data is searched
    output = write(ds, tmp_path / "trailing.dcm")
    assert_where(scan_file(output, identifying_values(the_input())), PATIENT_ID, output,
                 "(FFFC,FFFC)")


def test_values_in_encapsulated_frames_are_not_reported(tmp_path: Path) -> None:
    ds = clean_dataset(JPEG2000Lossless)
    frame = f"..{NAME}..{PATIENT_ID}..{STUDY_DATE}..".encode()
    ds.PixelData = encapsulate([frame, frame])
    ds["PixelData"].VR = "OB"
    ds.StudyComments = PATIENT_ID
    output = write(ds, tmp_path / "encapsulated.dcm")
    findings = scan_file(output, identifying_values(the_input()))
    assert findings
    assert all(f.where.endswith("in (0032,4000)") for f in findings), findings


def test_a_latin1_name_is_found_in_utf8_and_latin1(tmp_path: Path) -> None:
    source = the_input()
    source.SpecificCharacterSet, source.PatientName = "ISO_IR 100", "Müller^Jürgen"
    for charset in ("ISO_IR 100", "ISO_IR 192"):
        ds = clean_dataset()
        ds.SpecificCharacterSet, ds.PatientComments = charset, "Jürgen Müller"
        ds.ImageComments = "Müller Jürgen"
        output = write(ds, tmp_path / f"{charset}.dcm")
        found = {f.value.text for f in scan_file(output, identifying_values(source))}
        assert {"Müller", "Jürgen", "Müller^Jürgen"} <= found, (charset, found)


def test_terms_the_output_keeps_anyway_are_not_collected() -> None:
    """A test patient named after a defined term (Image Type PERFUSION) or a vendor that is
    also the institution (OFFIS): those values stay in any de-identified file, through
    attributes no profile removes, so finding them proves nothing; the whole name still
    counts."""
    source = the_input()
    source.PatientName, source.ImageType = "Perfusion^Stroke", ["ORIGINAL", "PERFUSION"]
    source.InstitutionName = source.Manufacturer = "OFFIS"
    texts = {v.text for v in identifying_values(source)}
    assert "Perfusion^Stroke" in texts and "Stroke" in texts
    assert "Perfusion" not in texts and "OFFIS" not in texts


def test_a_date_inside_a_retained_uid_is_not_reported(tmp_path: Path) -> None:
    """Under the Retain UIDs Option a UID made of the acquisition time stays, and the date
    in it with it; the same date anywhere else is still a finding."""
    source = the_input()
    source.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.1138.{STUDY_DATE}093015.7"
    ds = clean_dataset()
    ds.SeriesInstanceUID = source.SeriesInstanceUID
    output = write(ds, tmp_path / f"{source.SeriesInstanceUID}.dcm")
    values = identifying_values(source)
    assert places(scan_file(output, values), STUDY_DATE) == {"file name", "(0020,000E)"}
    assert scan_file(output, values, retained_uids=uid_values(source)) == []
    ds.ImageComments = f"seen {STUDY_DATE}"
    output = write(ds, tmp_path / "comment.dcm")
    found = scan_file(output, values, retained_uids=uid_values(source))
    assert places(found, STUDY_DATE) == {"(0020,4000)"}


def places(findings: list[PhiFinding], text: str) -> set[str]:
    """The elements (or "file name") where ``text`` was found."""
    return {f.where.split(" in ")[-1] for f in findings if f.value.text == text}


def test_ciphertext_of_encrypted_attributes_is_not_reported(tmp_path: Path) -> None:
    """The Encrypted Content of (0400,0500) is random bytes: a name's letters turn up there by
    chance (a reversible job once refused files for "Doe" in its ciphertext). What follows
    the sequence is searched again."""
    pattern = f"{NAME} {PATIENT_ID} ".encode()
    item = Dataset()
    item.EncryptedContentTransferSyntaxUID = ExplicitVRLittleEndian
    item.EncryptedContent = (pattern * 8)[:128]
    ds = clean_dataset()
    ds.EncryptedAttributesSequence = Sequence([item])
    output = write(ds, tmp_path / "reversible.dcm")
    assert PATIENT_ID.encode() in output.read_bytes()
    assert scan_file(output, identifying_values(the_input())) == []
    ds.add_new(0x04100010, "LO", PATIENT_ID)  # after the sequence: found
    output = write(ds, tmp_path / "after.dcm")
    assert [f.value.text for f in scan_file(output, identifying_values(the_input()))
            ] == [PATIENT_ID]
