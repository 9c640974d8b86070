"""What an instance encapsulates comes back exactly as it went in: documents (ours and
DCMTK's), video files (a browser-playable MP4 stays one), and one frame's JPEG bit stream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_fragments
from pydicom.uid import UID, JPEGBaseline8Bit, generate_uid

from archive.conversions.outcome import ConversionFailed, ConversionSkipped
from archive.objects.documents import DocumentCreateOptions, create_document
from archive.objects.extract import (
    ExtractKind,
    extract,
    extracted_filename_and_mime,
    what_to_extract,
)
from archive.objects.images import create_image
from archive.objects.video import VideoCreateOptions, create_video
from tests.archive_helpers import corpus
from tests.image_helpers import JPEG_KINDS, make_jpeg
from tests.image_helpers import options as image_options
from tests.object_helpers import (
    ascii_stl,
    binary_stl,
    cda,
    ffmpeg_video,
    ffprobe_stream,
    h264_mp4,
    h264_ntsc_ts,
    hevc_mp4,
    identity,
    mpeg2,
    mpeg2_high_level,
    mtl_material,
    obj_model,
    odd_length,
    run,
    tiny_pdf,
)

DOCUMENTS: dict[str, Callable[[Path], Path]] = {
    "even.pdf": lambda p: tiny_pdf(p, pad_to_odd=False),
    "odd.pdf": lambda p: tiny_pdf(p, pad_to_odd=True),
    "note.xml": cda,
    "binary.stl": binary_stl,
    "ascii.stl": ascii_stl,
    "part.obj": obj_model,
    "part.mtl": mtl_material,
}
VIDEOS: dict[str, Callable[[Path], Path]] = {
    "h264.mp4": h264_mp4,
    "odd-h264.mp4": lambda p: odd_length(h264_mp4(p)),
    "mpeg2.mpg": mpeg2,
    "mpeg2.ts": mpeg2,
    "mpeg2-high-level.mpg": mpeg2_high_level,
    "h264-ntsc.ts": h264_ntsc_ts,
    "hevc.mp4": hevc_mp4,
    "hevc10.mp4": lambda p: hevc_mp4(p, main10=True),
}


def _back(dicom: Path, out: Path, frame: int | None = None) -> Path:
    result = extract(dicom, out, frame)
    (output,) = result.outputs
    assert not output.is_dicom and output.path.parent == out and output.name == output.path.name
    return output.path


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_documents_come_back_byte_for_byte(tmp_path: Path, name: str) -> None:
    source = DOCUMENTS[name](tmp_path / name)
    options = DocumentCreateOptions(identity(), title="Report: 1/2 <final>")
    dicom = create_document(source, tmp_path / "dicom", options).outputs[0].path
    what = what_to_extract(dicom)
    assert what is not None and what.kind is ExtractKind.DOCUMENT
    back = _back(dicom, tmp_path / "back")
    assert back.read_bytes() == source.read_bytes()
    assert back.name == f"Report_ 1_2 _final{source.suffix}"
    assert extracted_filename_and_mime(dicom) == (back.name, what.mime_type)


@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_videos_come_back_byte_for_byte(tmp_path: Path, name: str) -> None:
    source = VIDEOS[name](tmp_path / name)
    dicom = create_video(source, tmp_path / "dicom", VideoCreateOptions(identity()))
    path = dicom.outputs[0].path
    what = what_to_extract(path)
    assert what is not None and what.kind is ExtractKind.VIDEO
    back = _back(path, tmp_path / "back")
    assert back.read_bytes() == source.read_bytes()
    assert back.suffix == {".mp4": ".mp4", ".mpg": ".mpg", ".ts": ".ts"}[source.suffix]


def test_the_extracted_mp4_is_an_mp4_a_browser_plays(tmp_path: Path) -> None:
    source = h264_mp4(tmp_path / "clip.mp4")
    path = create_video(source, tmp_path / "d", VideoCreateOptions(identity())).outputs[0].path
    assert extracted_filename_and_mime(path)[1] == "video/mp4"
    probed = ffprobe_stream(_back(path, tmp_path / "back"))
    assert "mp4" in probed["format_name"] and probed["codec_name"] == "h264"
    assert probed["profile"] == "High"


def test_the_copy_is_the_fragments_pydicom_reads(tmp_path: Path) -> None:
    """Our chunked fragment walk against pydicom's own fragment parser, across fragments."""
    source = odd_length(
        ffmpeg_video(tmp_path / "big.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p", size="640x480")
    )
    data = source.read_bytes()
    ds = dcmread(
        create_video(source, tmp_path / "d", VideoCreateOptions(identity())).outputs[0].path
    )
    # Split the stream into three fragments at even offsets (the Fragmentable syntaxes).
    pieces = [data[:1000], data[1000:5000], data[5000:] + b"\x00"]
    ds.PixelData = encapsulate(pieces, has_bot=False)
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.102.1")
    split = tmp_path / "split.dcm"
    ds.save_as(split, enforce_file_format=True)
    _, *fragments = generate_fragments(dcmread(split).PixelData)
    assert len(fragments) == 3 and b"".join(fragments) == data + b"\x00"
    assert _back(split, tmp_path / "back").read_bytes() == data


def test_dcmtk_documents_are_given_back_by_our_extract(tmp_path: Path) -> None:
    for name, write, tool in (
        ("odd.pdf", lambda p: tiny_pdf(p, pad_to_odd=True), "pdf2dcm"),
        ("even.pdf", lambda p: tiny_pdf(p, pad_to_odd=False), "pdf2dcm"),
        ("note.xml", cda, "cda2dcm"),
        ("binary.stl", binary_stl, "stl2dcm"),
    ):
        source = write(tmp_path / name)
        theirs = tmp_path / f"{name}.dcm"
        made = run(tool, str(source), str(theirs))
        assert made.returncode == 0, made.stderr.decode()
        assert _back(theirs, tmp_path / f"back-{name}").read_bytes() == source.read_bytes()


def _jpeg(path: Path, colour: str) -> Path:
    made = run(
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"color=c={colour}:size=64x48",
        "-frames:v",
        "1",
        str(path),
    )
    assert made.returncode == 0, made.stderr.decode()
    return path


def test_img2dcm_jpegs_come_back_without_reencoding(tmp_path: Path) -> None:
    source = _jpeg(tmp_path / "photo.jpg", "red")
    dicom = tmp_path / "photo.dcm"
    assert run("img2dcm", "--keep-appn", str(source), str(dicom)).returncode == 0
    what = what_to_extract(dicom)
    assert what is not None and (what.kind, what.mime_type, what.frames) == (
        ExtractKind.JPEG_FRAME,
        "image/jpeg",
        1,
    )
    assert _back(dicom, tmp_path / "back").read_bytes() == source.read_bytes()


def test_one_frame_of_a_multiframe_jpeg_comes_back(tmp_path: Path) -> None:
    jpegs = [_jpeg(tmp_path / f"{c}.jpg", c).read_bytes() for c in ("red", "green", "blue")]
    if len(jpegs[1]) % 2 == 0:  # a 1-byte comment after SOI makes it odd: a pad byte follows
        jpegs[1] = jpegs[1][:2] + b"\xff\xfe\x00\x03x" + jpegs[1][2:]
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.4"
    ds.SOPInstanceUID = generate_uid()
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.NumberOfFrames = 48, 64, 3, 3
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = encapsulate(jpegs)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    dicom = tmp_path / "multi.dcm"
    ds.save_as(dicom, enforce_file_format=True)
    assert len(jpegs[1]) % 2 == 1
    for number, original in enumerate(jpegs, 1):
        back = _back(dicom, tmp_path / f"back{number}", frame=number)
        assert back.read_bytes() == original
        assert back.name.endswith(f"_frame{number}.jpg")
    with pytest.raises(ConversionFailed, match="frames 1 to 3"):
        extract(dicom, tmp_path / "none", frame=4)


def test_a_native_image_has_nothing_to_extract(tmp_path: Path) -> None:
    native = corpus("693_UNCI.dcm")
    assert what_to_extract(native) is None
    with pytest.raises(ConversionSkipped):
        extract(native, tmp_path / "out")
    with pytest.raises(ConversionSkipped):
        extracted_filename_and_mime(native)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_corrupt_file_is_refused(tmp_path: Path) -> None:
    source = h264_mp4(tmp_path / "clip.mp4")
    path = create_video(source, tmp_path / "d", VideoCreateOptions(identity())).outputs[0].path
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size - 3000])
    (tmp_path / "out").mkdir()
    with pytest.raises(ConversionFailed, match="fragment"):
        extract(truncated, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())
    not_dicom = tmp_path / "text.dcm"
    not_dicom.write_text("hello")
    with pytest.raises(ConversionFailed, match="not a readable DICOM file"):
        what_to_extract(not_dicom)


def test_a_document_bigger_than_the_deferred_read_comes_back(tmp_path: Path) -> None:
    """The header is read with the document deferred; the document is read once, later."""
    filler = bytes(range(256)).replace(b"\n", b"x") * 1200  # 300 KB, over the 64 KB deferral
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF-1.4\n%" + filler + b"\ntrailer<<>>\n%%EOF\n")
    dicom = create_document(source, tmp_path / "d", DocumentCreateOptions(identity()))
    back = _back(dicom.outputs[0].path, tmp_path / "back")
    assert back.read_bytes() == source.read_bytes()
    assert back.name == "scan.pdf"


@pytest.mark.parametrize(
    ("name", "extension"),
    [("693_J2KR.dcm", ".j2c"), ("JLSL_08_07_0_1F.dcm", ".jls"), ("JPEG-LL.dcm", ".jpg")],
)
def test_a_frame_decodes_to_the_pixels_pydicom_decodes(
    tmp_path: Path, name: str, extension: str
) -> None:
    import imagecodecs
    import numpy as np

    back = _back(corpus(name), tmp_path / "back")
    assert back.suffix == extension
    decode = {
        ".j2c": imagecodecs.jpeg2k_decode,
        ".jls": imagecodecs.jpegls_decode,
        ".jpg": imagecodecs.ljpeg_decode,
    }[extension]
    pixels = np.asarray(decode(back.read_bytes()))
    expected = dcmread(corpus(name)).pixel_array
    assert np.array_equal(pixels.reshape(expected.shape).astype(expected.dtype), expected)


@pytest.mark.parametrize("kind", JPEG_KINDS)
def test_every_jpeg_we_encapsulate_comes_back_byte_for_byte(tmp_path: Path, kind: str) -> None:
    source = make_jpeg(kind, tmp_path)
    created = create_image(source, tmp_path / "dicom", image_options(accept_progressive=True))
    dicom = created.outputs[0].path
    what = what_to_extract(dicom)
    assert what is not None and (what.kind, what.mime_type, what.frames) == (
        ExtractKind.JPEG_FRAME, "image/jpeg", 1)
    back = _back(dicom, tmp_path / "back")
    assert back.suffix == ".jpg"
    assert back.read_bytes() == source.read_bytes()
