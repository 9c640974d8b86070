"""PDF, CDA, STL, OBJ and MTL files become Encapsulated Document instances that dciodvfy
accepts, that DCMTK gives back byte for byte, and whose titles and identifiers come from the
form or from the document itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread

from archive.objects.documents import (
    DocumentCreateOptions,
    DocumentKind,
    create_document,
    detect_document,
)
from tests.object_helpers import (
    ascii_stl,
    binary_stl,
    cda,
    dciodvfy_errors,
    dciodvfy_errors_as,
    dcmdump_reads,
    identity,
    mtl_material,
    obj_model,
    run,
    tiny_pdf,
)

WRITERS: dict[str, tuple[Callable[[Path], Path], DocumentKind]] = {
    "report.pdf": (tiny_pdf, DocumentKind.PDF),
    "note.xml": (cda, DocumentKind.CDA),
    "skull.stl": (binary_stl, DocumentKind.STL),
    "wedge.stl": (ascii_stl, DocumentKind.STL),
    "part.obj": (obj_model, DocumentKind.OBJ),
    "part.mtl": (mtl_material, DocumentKind.MTL),
}
DCIODVFY_KNOWS = {DocumentKind.PDF, DocumentKind.CDA, DocumentKind.STL}
STL_CLASS = str(DocumentKind.STL.sop_class_uid)


def _create(source: Path, out: Path, title: str = "") -> Path:
    options = DocumentCreateOptions(identity(), title=title)
    return create_document(source, out, options).outputs[0].path


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_each_kind_is_detected_and_encapsulated_as_its_iod(tmp_path: Path, name: str) -> None:
    write, kind = WRITERS[name]
    source = write(tmp_path / name)
    assert detect_document(source) is kind
    written = _create(source, tmp_path / "out")
    ds = dcmread(written)
    assert ds.SOPClassUID == kind.sop_class_uid
    assert ds.Modality == kind.modality
    assert ds.MIMETypeOfEncapsulatedDocument == kind.mime_type
    assert ds.EncapsulatedDocumentLength == source.stat().st_size
    assert bytes(ds.EncapsulatedDocument)[: source.stat().st_size] == source.read_bytes()
    assert "ConceptNameCodeSequence" in ds and "AcquisitionDateTime" in ds
    assert str(kind.sop_class_uid) in dcmdump_reads(written)
    if kind in DCIODVFY_KNOWS:
        assert dciodvfy_errors(written) == []
    else:  # dciodvfy 2022 knows no OBJ/MTL IOD: check the modules as an Encapsulated STL
        copy = tmp_path / "as-stl.dcm"
        errors = dciodvfy_errors_as(
            written, copy, SOPClassUID=STL_CLASS, MIMETypeOfEncapsulatedDocument="model/stl"
        )
        assert errors == []


@pytest.mark.parametrize("odd", [True, False])
def test_dcmtk_dcm2pdf_gives_back_the_same_pdf(tmp_path: Path, odd: bool) -> None:
    source = tiny_pdf(tmp_path / "report.pdf", pad_to_odd=odd)
    written = _create(source, tmp_path / "out")
    back = tmp_path / "back.pdf"
    done = run("dcm2pdf", str(written), str(back))
    assert done.returncode == 0, done.stderr.decode()
    assert back.read_bytes() == source.read_bytes()


def test_the_title_comes_from_the_form_then_the_pdf_then_the_file_name(tmp_path: Path) -> None:
    titled = tiny_pdf(tmp_path / "scan-1.pdf", title="Blood \\(CBC\\) results")
    assert dcmread(_create(titled, tmp_path / "a", "From the form")).DocumentTitle == (
        "From the form"
    )
    assert dcmread(_create(titled, tmp_path / "b")).DocumentTitle == "Blood (CBC) results"
    untitled = tiny_pdf(tmp_path / "scan-2.pdf", title="")
    assert dcmread(_create(untitled, tmp_path / "c")).DocumentTitle == "scan-2"


def test_a_cda_gives_its_instance_identifier_and_title(tmp_path: Path) -> None:
    source = cda(tmp_path / "note.xml", root="1.2.3.4.5", extension="N-77", title="Discharge")
    ds = dcmread(_create(source, tmp_path / "out"))
    assert ds.HL7InstanceIdentifier == "1.2.3.4.5^N-77"
    assert ds.DocumentTitle == "Discharge"
    without_extension = cda(tmp_path / "plain.xml", root="1.2.3.4.6", extension="")
    text = without_extension.read_text().replace(' extension=""', "")
    without_extension.write_text(text)
    assert dcmread(_create(without_extension, tmp_path / "o2")).HL7InstanceIdentifier == (
        "1.2.3.4.6"
    )


def test_models_have_a_frame_of_reference_and_millimetres(tmp_path: Path) -> None:
    for write, name in ((binary_stl, "m.stl"), (obj_model, "m.obj"), (mtl_material, "m.mtl")):
        ds = dcmread(_create(write(tmp_path / name), tmp_path / f"out-{name}"))
        assert ds.Modality == "M3D"
        assert ds.FrameOfReferenceUID
        unit = ds.MeasurementUnitsCodeSequence[0]
        assert (unit.CodeValue, unit.CodingSchemeDesignator) == ("mm", "UCUM")
        for keyword in ("Manufacturer", "ManufacturerModelName", "DeviceSerialNumber"):
            assert ds.get(keyword), keyword


def test_dcmtk_and_ours_agree_on_the_pdf_iod(tmp_path: Path) -> None:
    """DCMTK's pdf2dcm output and ours carry the same document the same way."""
    source = tiny_pdf(tmp_path / "report.pdf", pad_to_odd=True)
    theirs = tmp_path / "theirs.dcm"
    assert run("pdf2dcm", str(source), str(theirs)).returncode == 0
    ours = dcmread(_create(source, tmp_path / "out"))
    reference = dcmread(theirs)
    assert ours.SOPClassUID == reference.SOPClassUID
    assert ours.MIMETypeOfEncapsulatedDocument == reference.MIMETypeOfEncapsulatedDocument
    assert bytes(ours.EncapsulatedDocument) == bytes(reference.EncapsulatedDocument)
