"""What cannot be transcoded is refused with a reason for the operator, never with a raw
library exception: non-image objects are skipped, broken pixel data and pixel data the
target cannot hold fail (with the targets that could hold it), and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from archive.conversions.outcome import ConversionFailed, ConversionSkipped
from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode import TranscodeOptions, transcode_file
from tests.archive_helpers import corpus

T = TargetSyntax


def _object(path: Path, sop_class: str, modality: str, **values: object) -> Path:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = modality
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


def _refused(source: Path, target: TargetSyntax, out: Path) -> str:
    out.mkdir(exist_ok=True)
    with pytest.raises((ConversionFailed, ConversionSkipped)) as refused:
        transcode_file(source, out, TranscodeOptions(target=target))
    assert list(out.iterdir()) == []  # no output, no spool file left
    return str(refused.value)


def test_a_structured_report_is_skipped(tmp_path: Path) -> None:
    sr = _object(tmp_path / "sr.dcm", "1.2.840.10008.5.1.4.1.1.88.11", "SR")
    with pytest.raises(ConversionSkipped, match=r"no pixel data.*structured report"):
        transcode_file(sr, tmp_path, TranscodeOptions(target=T.JPEG_LS_LOSSLESS))


def test_an_encapsulated_pdf_is_skipped(tmp_path: Path) -> None:
    pdf = _object(tmp_path / "pdf.dcm", "1.2.840.10008.5.1.4.1.1.104.1", "DOC",
                  MIMETypeOfEncapsulatedDocument="application/pdf",
                  EncapsulatedDocument=b"%PDF-1.4\n%%EOF\n")
    with pytest.raises(ConversionSkipped, match=r"encapsulated document \(application/pdf"):
        transcode_file(pdf, tmp_path / "out", TranscodeOptions(target=T.RLE))


@pytest.mark.parametrize("target", [T.EXPLICIT_LE, T.JPEG_LS_LOSSLESS])
def test_truncated_encapsulated_pixel_data_fails_with_its_reason(target: TargetSyntax,
                                                                 tmp_path: Path) -> None:
    reason = _refused(corpus("emri_small_jpeg_2k_lossless_too_short.dcm"), target,
                      tmp_path / "out")
    assert "truncated" in reason


@pytest.mark.parametrize("target", [T.EXPLICIT_LE, T.RLE])  # the same syntax: no blind copy
def test_truncated_native_pixel_data_fails_with_its_reason(target: TargetSyntax,
                                                           tmp_path: Path) -> None:
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(corpus("emri_small.dcm").read_bytes()[:-5000])
    reason = _refused(cut, target, tmp_path / "out")
    needed = 64 * 64 * 2 * 10  # emri_small: 10 frames of 64×64, 16 bits allocated
    assert reason == (f"the pixel data is truncated: {needed - 5000} of the {needed} bytes "
                      "its 10 frame(s) need")


def test_a_broken_codestream_fails_with_its_reason(tmp_path: Path) -> None:
    ds = dcmread(corpus("emri_small_RLE.dcm"))
    data = bytearray(ds.PixelData)
    data[56:120] = b"\xff" * 64  # the first frame's RLE header: segment count and offsets
    ds.PixelData = bytes(data)
    broken = tmp_path / "broken.dcm"
    ds.save_as(broken)
    reason = _refused(broken, T.EXPLICIT_LE, tmp_path / "out")
    assert reason.startswith("frame 1 of 10 cannot be decoded (RLE Lossless)"), reason


@pytest.mark.parametrize(("name", "target", "words"), [
    ("liver.dcm", T.JPEG_BASELINE, ["1-bit", "pick an uncompressed syntax"]),
    ("liver.dcm", T.JPEG_LS_LOSSLESS, ["1-bit", "Explicit VR Little Endian"]),
    ("693_UNCI.dcm", T.JPEG_BASELINE, ["14-bit", "Baseline", "pick", "JPEG-LS"]),
    ("693_UNCI.dcm", T.JPEG_EXTENDED, ["14-bit", "≤ 12 bits", "pick"]),
    ("mlut_18.dcm", T.JPEG_EXTENDED, ["signed", "pick", "JPEG-LS Near-Lossless"]),
    ("SC_rgb.dcm", T.JPEG_EXTENDED, ["greyscale", "JPEG Baseline"]),
    ("OBXXXX1A.dcm", T.JPEG_BASELINE, ["PALETTE COLOR", "lossily", "JPEG-LS Lossless"]),
    ("SC_rgb_32bit.dcm", T.RLE, ["32-bit", "pick an uncompressed syntax"]),
    ("parametric_map_float.dcm", T.JPEG_LS_LOSSLESS, ["float pixel data"]),
])
def test_pixels_the_target_cannot_hold_fail_with_the_alternatives(
    name: str, target: TargetSyntax, words: list[str], tmp_path: Path
) -> None:
    reason = _refused(corpus(name), target, tmp_path / "out")
    for word in words:
        assert word in reason, reason


def test_a_file_that_is_not_dicom_fails(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n" * 20)
    reason = _refused(text, T.RLE, tmp_path / "out")
    assert "not a" in reason and "DICOM" in reason
