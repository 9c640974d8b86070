"""Memory stays bounded: a 200-frame 512×512 16-bit file (100 MiB of pixel data) is
transcoded frame by frame with a peak of Python allocations (tracemalloc) of a few frames,
not the pixel data; and past 4 GiB of frames the Extended Offset Table takes over."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode import TranscodeOptions, transcode_file, write
from tests.archive_helpers import corpus
from tests.transcode_helpers import peer_decoded, source_pixels

FRAMES, SIZE = 200, 512
FRAME_BYTES = SIZE * SIZE * 2
# the bound reached: one decoded frame, its copy in the encoder's byte order, the codestream
# and the dataset without pixel data come to about 3 frames; 8 frames (4 MiB) is the limit
BOUND = 8 * FRAME_BYTES


def _frame(index: int) -> np.ndarray:
    rows, columns = np.mgrid[0:SIZE, 0:SIZE]
    noise = np.random.default_rng(index).integers(0, 16, (SIZE, SIZE))
    return ((rows * 3 + columns * 2 + index * 7) % 4000 + noise).astype(np.uint16)


def _multiframe(path: Path) -> None:
    """Written in pieces, so that the test itself never holds the 100 MiB either."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = (
        generate_uid(), generate_uid(), generate_uid())
    ds.Modality, ds.PatientName, ds.PatientID = "MR", "Memory^Test", "MEM1"
    ds.Rows = ds.Columns = SIZE
    ds.NumberOfFrames = FRAMES
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    with path.open("ab") as handle:
        handle.write(b"\xe0\x7f\x10\x00OW\x00\x00" + (FRAMES * FRAME_BYTES).to_bytes(4, "little"))
        for index in range(FRAMES):
            handle.write(_frame(index).tobytes())


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "multiframe.dcm"
    _multiframe(path)
    return path


@pytest.mark.parametrize("target", [TargetSyntax.JPEG_LS_LOSSLESS, TargetSyntax.EXPLICIT_BE])
def test_a_100_mib_multiframe_is_transcoded_in_a_few_frames_of_memory(
    big_file: Path, target: TargetSyntax, tmp_path: Path
) -> None:
    tracemalloc.start()
    try:
        result = transcode_file(big_file, tmp_path, TranscodeOptions(target=target))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.frames == FRAMES
    assert peak < BOUND, f"peak {peak / 2**20:.1f} MiB"
    # and the frames are right: a few spread over the file, read back one at a time
    from pydicom.pixels import iter_pixels

    wanted = [0, 99, 199]
    for index, frame in zip(wanted, iter_pixels(result.outputs[0].path, indices=wanted),
                            strict=True):
        np.testing.assert_array_equal(frame, _frame(index))


def test_past_the_32_bit_offsets_the_extended_offset_table_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 4 GiB limit lowered to 1 KB: Basic Offset Table empty, (7FE0,0001/0002) written;
    pydicom reads the frames through it and DCMTK decodes the file."""
    monkeypatch.setattr(write, "OFFSET_LIMIT", 1024)
    result = transcode_file(corpus("emri_small.dcm"), tmp_path,
                            TranscodeOptions(target=TargetSyntax.JPEG_LS_LOSSLESS))
    assert any("Extended Offset Table" in warning for warning in result.warnings)
    ds = dcmread(result.outputs[0].path)
    offsets = np.frombuffer(ds.ExtendedOffsetTable, "<u8")
    lengths = np.frombuffer(ds.ExtendedOffsetTableLengths, "<u8")
    assert len(offsets) == len(lengths) == 10 and offsets[0] == 0
    assert list(offsets[1:]) == list(np.cumsum(lengths[:-1] + 8))
    assert ds.PixelData[4:8] == b"\x00\x00\x00\x00"  # the Basic Offset Table is empty
    np.testing.assert_array_equal(ds.pixel_array, source_pixels("emri_small.dcm"))
    np.testing.assert_array_equal(peer_decoded(result.outputs[0].path, tmp_path),
                                  source_pixels("emri_small.dcm"))
