"""Video files become Video Endoscopic / Photographic / Microscopic instances: the transfer
syntax from the stream's own profile and level, frame timing equal to ffprobe's own count,
the file's bytes in one fragment, and dciodvfy finds no errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.encaps import generate_fragments
from pydicom.uid import HEVCM10P51, HEVCMP51, MPEG2MPHL, MPEG2MPML, MPEG4HP41, MPEG4HP422D

from archive.objects.video import (
    AnatomicRegion,
    VideoContainer,
    VideoCreateOptions,
    VideoSopClass,
    create_video,
    is_video,
    probe_video,
)
from tests.object_helpers import (
    H264_FOR_DCIODVFY,
    dciodvfy_errors,
    dciodvfy_errors_as,
    dcmdump_reads,
    ffprobe_stream,
    frame_time_ms,
    h264_mp4,
    h264_ntsc_ts,
    hevc_mp4,
    identity,
    mpeg2,
    mpeg2_high_level,
    odd_length,
    run,
)

MAKERS = {
    "h264.mp4": (h264_mp4, MPEG4HP41),
    "mpeg2.mpg": (mpeg2, MPEG2MPML),
    "mpeg2.ts": (mpeg2, MPEG2MPML),
    "mpeg2-high-level.mpg": (mpeg2_high_level, MPEG2MPHL),
    "h264-ntsc.ts": (h264_ntsc_ts, MPEG4HP41),
    "hevc-main.mp4": (hevc_mp4, HEVCMP51),
    "hevc-main10.mp4": (lambda p: hevc_mp4(p, main10=True), HEVCM10P51),
}
DCIODVFY_KNOWS = {str(MPEG4HP41), str(MPEG2MPML), str(MPEG2MPHL), str(MPEG4HP422D)}


def _create(source: Path, out: Path, sop_class: VideoSopClass = VideoSopClass.ENDOSCOPIC):
    return create_video(source, out, VideoCreateOptions(identity(), sop_class))


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_the_syntax_comes_from_the_stream_and_timing_matches_ffprobe(
    tmp_path: Path, name: str
) -> None:
    make, syntax = MAKERS[name]
    source = make(tmp_path / name)
    result = _create(source, tmp_path / "out")
    written = result.outputs[0].path
    ds = dcmread(written)
    assert ds.file_meta.TransferSyntaxUID == syntax
    probed = ffprobe_stream(source)  # decoded frames, counted by ffprobe itself
    assert ds.NumberOfFrames == int(probed["nb_read_frames"]) == result.frames
    assert float(ds.FrameTime) == pytest.approx(frame_time_ms(probed["r_frame_rate"]), rel=1e-5)
    rate = Fraction(probed["r_frame_rate"])  # 25/1, 30000/1001…
    assert ds.CineRate == ds.RecommendedDisplayFrameRate == round(rate)
    assert ds.FrameIncrementPointer == 0x00181063
    assert (ds.Rows, ds.Columns) == (int(probed["height"]), int(probed["width"]))
    assert ds.PhotometricInterpretation == "YBR_PARTIAL_420"
    assert (ds.SamplesPerPixel, ds.BitsAllocated, ds.PlanarConfiguration) == (3, 8, 0)
    assert ds.LossyImageCompression == "01"
    assert str(syntax) in dcmdump_reads(written)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_dciodvfy_finds_no_errors(tmp_path: Path, name: str) -> None:
    make, syntax = MAKERS[name]
    source = make(tmp_path / name)
    for sop_class in VideoSopClass:
        written = _create(source, tmp_path / sop_class.name, sop_class).outputs[0].path
        if str(syntax) in DCIODVFY_KNOWS:
            assert dciodvfy_errors(written) == []
        else:  # dciodvfy 2022 does not know HEVC: check the modules under H.264's syntax
            copy = tmp_path / f"{sop_class.name}-as-h264.dcm"
            assert dciodvfy_errors_as(written, copy, TransferSyntaxUID=H264_FOR_DCIODVFY) == []


def test_the_sop_class_sets_the_modality(tmp_path: Path) -> None:
    source = h264_mp4(tmp_path / "clip.mp4")
    for sop_class, modality in (
        (VideoSopClass.ENDOSCOPIC, "ES"),
        (VideoSopClass.PHOTOGRAPHIC, "XC"),
        (VideoSopClass.MICROSCOPIC, "GM"),
    ):
        ds = dcmread(_create(source, tmp_path / sop_class.name, sop_class).outputs[0].path)
        assert (ds.SOPClassUID, ds.Modality) == (sop_class.uid, modality)
        assert ds.SOPClassUID.name.startswith(sop_class.label)


def test_pixel_data_is_the_file_itself_in_one_fragment(tmp_path: Path) -> None:
    source = odd_length(h264_mp4(tmp_path / "odd.mp4"))
    ds = dcmread(_create(source, tmp_path / "out").outputs[0].path)
    basic_offset_table, *fragments = generate_fragments(ds.PixelData)
    original = source.read_bytes()
    assert basic_offset_table == b""
    assert len(fragments) == 1
    assert fragments[0] == original + b"\x00"  # padded to even length, nothing else


def test_a_main_profile_h264_stream_goes_under_the_high_profile_syntax(tmp_path: Path) -> None:
    for profile in ("main", "baseline"):  # libx264 baseline is Constrained Baseline
        source = h264_mp4(tmp_path / f"{profile}.mp4", profile=profile, level="3.0")
        assert ffprobe_stream(source)["profile"] in ("Main", "Constrained Baseline")
        result = _create(source, tmp_path / profile)
        assert dcmread(result.outputs[0].path).file_meta.TransferSyntaxUID == MPEG4HP41
        assert any("High Profile decoder" in warning for warning in result.warnings)


def test_level_4_2_goes_under_the_4_2_syntax(tmp_path: Path) -> None:
    source = h264_mp4(tmp_path / "l42.mp4", level="4.2")
    assert probe_video(source).level == 42
    ds = dcmread(_create(source, tmp_path / "out").outputs[0].path)
    assert ds.file_meta.TransferSyntaxUID == MPEG4HP422D
    assert dciodvfy_errors(tmp_path / "out" / "VID0001.dcm") == []


def test_the_name_does_not_decide_the_container(tmp_path: Path) -> None:
    named_wrongly = mpeg2(tmp_path / "clip.ts").rename(tmp_path / "clip.mp4")
    stream = probe_video(named_wrongly)
    assert stream.container is VideoContainer.MPEG_TS
    assert is_video(named_wrongly)
    assert (
        dcmread(_create(named_wrongly, tmp_path / "out").outputs[0].path)
        .file_meta["TransferSyntaxUID"]
        .value
        == MPEG2MPML
    )


def test_an_anatomic_region_from_the_form_is_kept(tmp_path: Path) -> None:
    source = h264_mp4(tmp_path / "clip.mp4")
    region = AnatomicRegion("69695003", "SCT", "Stomach")
    options = VideoCreateOptions(identity(), VideoSopClass.ENDOSCOPIC, anatomic_region=region)
    ds = dcmread(create_video(source, tmp_path / "out", options).outputs[0].path)
    item = ds.AnatomicRegionSequence[0]
    assert (item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning) == (
        "69695003",
        "SCT",
        "Stomach",
    )


def test_a_video_with_sound_keeps_it_and_says_so(tmp_path: Path) -> None:
    source = tmp_path / "voice.mp4"
    made = run(
        "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
        "-f", "lavfi", "-i", "sine=d=1", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", str(source),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr.decode()
    result = _create(source, tmp_path / "out")
    assert any("audio track is kept" in warning for warning in result.warnings)
    _, fragment = generate_fragments(dcmread(result.outputs[0].path).PixelData)
    original = source.read_bytes()
    assert fragment == original + b"\x00" * (len(original) % 2)
