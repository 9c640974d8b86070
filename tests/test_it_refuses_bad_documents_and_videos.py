"""Files that are not what they claim, and streams no DICOM syntax covers, are refused with a
reason naming what is wrong (profile, level, codec, root element…), and nothing is left in the
output folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from archive.conversions.outcome import ConversionFailed
from archive.objects.documents import (
    DocumentCreateOptions,
    DocumentKind,
    create_document,
    detect_document,
)
from archive.objects.video import (
    VideoContainer,
    VideoCreateOptions,
    VideoStream,
    create_video,
    is_video,
    video_syntax,
)
from tests.object_helpers import cda, ffmpeg_video, h264_mp4, identity, run, tiny_pdf


def _refused_document(source: Path, out: Path, match: str, kind: DocumentKind | None = None):
    with pytest.raises(ConversionFailed, match=match):
        create_document(source, out, DocumentCreateOptions(identity(), kind=kind))
    assert not out.exists() or not any(out.iterdir())


def _refused_video(source: Path, out: Path, match: str) -> None:
    with pytest.raises(ConversionFailed, match=match):
        create_video(source, out, VideoCreateOptions(identity()))
    assert not out.exists() or not any(out.iterdir())


def test_a_text_file_named_pdf_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "report.pdf"
    fake.write_text("Dear colleague, the results are normal.\n")
    _refused_document(fake, tmp_path / "out", r"report\.pdf is not a PDF.*%PDF-")


def test_a_truncated_pdf_is_refused(tmp_path: Path) -> None:
    whole = tiny_pdf(tmp_path / "whole.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole[: len(whole) // 2])
    _refused_document(cut, tmp_path / "out", "no %%EOF")


def test_xml_that_is_not_a_cda_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "feed.xml"
    other.write_text('<?xml version="1.0"?><rss xmlns="http://example.org/rss"><c/></rss>')
    _refused_document(other, tmp_path / "out", r"root is \{http://example.org/rss\}rss")
    broken = tmp_path / "broken.xml"
    broken.write_text("<ClinicalDocument xmlns='urn:hl7-org:v3'><title>x</ClinicalDocument>")
    _refused_document(broken, tmp_path / "out", "not well-formed XML")


def test_xml_entities_are_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    xxe = tmp_path / "xxe.xml"
    xxe.write_text(
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY s SYSTEM "file://{secret}">]>'
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&s;</title></ClinicalDocument>'
    )
    _refused_document(xxe, tmp_path / "out", "document type")
    laughs = tmp_path / "laughs.xml"
    laughs.write_text(
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&b;</title></ClinicalDocument>'
    )
    _refused_document(laughs, tmp_path / "out", "document type")


def test_the_content_must_be_the_kind_the_form_asked_for(tmp_path: Path) -> None:
    pdf = tiny_pdf(tmp_path / "report.pdf")
    _refused_document(
        pdf, tmp_path / "out", "given as CDA, but its content is PDF", kind=DocumentKind.CDA
    )
    assert detect_document(cda(tmp_path / "n.xml")) is DocumentKind.CDA


def test_random_bytes_are_no_document(tmp_path: Path) -> None:
    noise = tmp_path / "model.stl"
    noise.write_bytes(os.urandom(1001))
    _refused_document(noise, tmp_path / "out", r"model\.stl is not a valid STL")


def test_a_truncated_mp4_and_random_bytes_are_refused(tmp_path: Path) -> None:
    whole = h264_mp4(tmp_path / "whole.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])
    _refused_video(cut, tmp_path / "out1", "not a video ffprobe can read")
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(os.urandom(4096))
    _refused_video(noise, tmp_path / "out2", "not a video ffprobe can read")
    assert not is_video(noise) and not is_video(cut)


STREAMS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "level51.mp4": (lambda p: h264_mp4(p, level="5.1"), r"H\.264 High level 5\.1.*4\.2"),
    "high10.mp4": (
        lambda p: ffmpeg_video(
            p, "-c:v", "libx264", "-profile:v", "high10", "-pix_fmt", "yuv420p10le"
        ),
        r"H\.264 High 10 profile",
    ),
    "high422.mp4": (
        lambda p: ffmpeg_video(
            p, "-c:v", "libx264", "-profile:v", "high422", "-pix_fmt", "yuv422p"
        ),
        r"H\.264 High 4:2:2 profile",
    ),
    "hevc-level62.mp4": (
        lambda p: ffmpeg_video(
            p,
            "-c:v",
            "libx265",
            "-pix_fmt",
            "yuv420p",
            "-x265-params",
            "log-level=error:level-idc=62",
        ),
        r"HEVC Main level 6\.2.*5\.1",
    ),
    "vp9.webm": (lambda p: ffmpeg_video(p, "-c:v", "libvpx-vp9"), "vp9 video has no DICOM"),
    "mpeg1.mpg": (lambda p: ffmpeg_video(p, "-c:v", "mpeg1video"), "mpeg1video video has no"),
    "h264.mkv": (
        lambda p: ffmpeg_video(p, "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        r"H\.264 in a matroska.*MP4 or MPEG_TS",
    ),
    "h264.mov": (
        lambda p: ffmpeg_video(p, "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        r"QuickTime \.mov",
    ),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_streams_no_dicom_syntax_covers_are_refused(tmp_path: Path, name: str) -> None:
    make, reason = STREAMS[name]
    _refused_video(make(tmp_path / name), tmp_path / "out", reason)


def test_a_file_without_video_is_refused(tmp_path: Path) -> None:
    audio = tmp_path / "voice.m4a"
    made = run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=1", str(audio))
    assert made.returncode == 0, made.stderr.decode()
    _refused_video(audio, tmp_path / "out", r"voice\.m4a has no video stream")


def test_profiles_and_levels_the_encoders_here_cannot_make(tmp_path: Path) -> None:
    def stream(codec: str, profile: str, level: int) -> VideoStream:
        return VideoStream(
            codec, profile, level, 1920, 1080, 10, 25.0, 0.4, "mpegts", VideoContainer.MPEG_TS
        )

    for codec, profile, level, reason in (
        ("hevc", "Rext", 93, "HEVC Rext profile"),
        ("h264", "Baseline", 30, "H.264 Baseline profile"),
        ("h264", "Extended", 30, "H.264 Extended profile"),
        ("mpeg2video", "High", 4, "MPEG-2 High profile"),
        ("mpeg2video", "4:2:2", 8, "MPEG-2 4:2:2 profile"),
        ("av1", "Main", 8, "av1 video has no DICOM"),
    ):
        with pytest.raises(ConversionFailed, match=reason):
            video_syntax(stream(codec, profile, level))


def test_still_images_and_documents_are_not_videos(tmp_path: Path) -> None:
    for name in ("still.jpg", "still.png"):
        made = run(
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48",
            "-frames:v", "1", str(tmp_path / name),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr.decode()
        assert not is_video(tmp_path / name)
    assert not is_video(tiny_pdf(tmp_path / "report.pdf"))
    assert is_video(h264_mp4(tmp_path / "clip.mp4"))
