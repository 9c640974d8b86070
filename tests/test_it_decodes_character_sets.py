"""Names and texts decoded per Specific Character Set; unknown charsets import with a warning."""

from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from archive.indexing import store_file
from archive.models import InstanceSource, Patient
from archive.reading import read_index_keys


def write_file(path: Path, charset: str | list[str], name_bytes: bytes, desc: bytes) -> Path:
    """A minimal CT object whose PN/LO values are the given raw bytes in that charset."""
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.PatientID = "CS1"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    # Put the raw, already-encoded bytes in place, as a modality would have written them.
    raw = path.read_bytes()
    from pydicom import dcmread

    ds = dcmread(path)
    ds.add_new(0x00100010, "PN", name_bytes)
    ds.add_new(0x00081030, "LO", desc)
    ds.save_as(path, enforce_file_format=True)
    assert raw  # written twice on purpose: the second write keeps the raw values
    return path


@pytest.mark.parametrize(
    ("charset", "raw_name", "expected_name"),
    [
        ("ISO_IR 192", "Wang^XiaoDong=王^小東".encode(), "Wang^XiaoDong=王^小東"),
        ("GB18030", "Wang^XiaoDong=王^小东".encode("gb18030"), "Wang^XiaoDong=王^小东"),
        ("ISO_IR 100", "Buc^Jérôme".encode("latin-1"), "Buc^Jérôme"),
        (
            ["", "ISO 2022 IR 87"],
            b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B",
            "Yamada^Tarou=山田^太郎",
        ),
        (
            ["", "ISO 2022 IR 149"],
            b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7",
            "Hong^Gildong=洪^吉洞",
        ),
    ],
)
def test_it_decodes_names(
    tmp_path: Path, charset: str | list[str], raw_name: bytes, expected_name: str
) -> None:
    path = write_file(tmp_path / "f.dcm", charset, raw_name, raw_name.split(b"=")[0])
    keys = read_index_keys(path).keys
    assert keys.patient_name == expected_name
    assert not [w for w in keys.warnings if "charset" in w.lower() or "encod" in w.lower()]


def test_an_unknown_charset_still_imports_with_a_warning(db: object, tmp_path: Path) -> None:
    path = write_file(tmp_path / "f.dcm", "ISO_IR 999", b"Doe^John", b"Chest")
    result = store_file(path, source=InstanceSource.UPLOAD)
    assert result.instance.warnings
    assert "ISO_IR 999" in result.instance.warnings
    assert Patient.objects.get().patient_name == "Doe^John"


def test_wrongly_encoded_bytes_still_import_with_a_warning(db: object, tmp_path: Path) -> None:
    path = write_file(tmp_path / "f.dcm", "ISO_IR 192", b"M\xfcller^Hans", b"x")  # latin-1 bytes
    result = store_file(path, source=InstanceSource.UPLOAD)
    assert "Müller" not in result.instance.series.study.patient.patient_name
    assert result.instance.warnings
