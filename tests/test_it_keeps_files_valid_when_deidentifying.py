"""A de-identified file is as valid as its input — dciodvfy finds no error in it that it
does not find in the input — keeps its pixel data byte for byte, and says it was
de-identified: Patient Identity Removed YES and the Basic Profile's code (113100) in
De-identification Method Code Sequence.

One corpus file per IOD (and per kind of encoding: implicit, big endian, deflated,
encapsulated), each through the default configuration (Basic Profile, a project key)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydicom import dcmread

from archive.deid.config import DeidConfig
from archive.deid.engine import deidentify_file
from tests.object_helpers import dciodvfy_errors

CORPUS = Path("/work/shared/dicom-corpus")
CONFIG = DeidConfig(project_key=bytes(range(32)))
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)

REPRESENTATIVE = (
    "693_UNCI.dcm",  # CT Image
    "eCT_Supplemental.dcm",  # Enhanced CT Image
    "MR-SIEMENS-DICOM-WithOverlays.dcm",  # MR Image with an overlay plane
    "emri_small.dcm",  # Enhanced MR Image
    "OBXXXX1A.dcm",  # US Image, palette colour
    "US1_J2KR.dcm",  # US Image, JPEG 2000 frames
    "JPEG-LL.dcm",  # NM Image, JPEG Lossless frames
    "RG3_J2KR.dcm",  # CR Image
    "SC_rgb_expb.dcm",  # Secondary Capture, Explicit VR Big Endian
    "liver.dcm",  # Segmentation
    "liver_deflate.dcm",  # Segmentation, Deflated Explicit VR Little Endian
    "parametric_map_float.dcm",  # Parametric Map (Float Pixel Data)
    "gdcm-US-ALOKA-16.dcm",  # US Image, Implicit VR Little Endian
    "mlut_18.dcm",  # Secondary Capture with a Modality LUT
)


def comparable(errors: list[str]) -> set[str]:
    """dciodvfy's error lines without the values they quote (a dummy value is not a new
    error), keeping what attribute and module they are about."""
    lines = set()
    for line in errors:
        line = re.sub(r"= <[^>]*>", "= <…>", line)
        line = re.sub(r"values are .*$", "values are …", line)
        lines.add(line.strip())
    return lines


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out_dir = tmp_path_factory.mktemp("deid-valid")
    return {name: deidentify_file(CORPUS / name, out_dir, CONFIG)[0] for name in REPRESENTATIVE}


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_dciodvfy_finds_no_new_error(outputs: dict[str, Path], name: str) -> None:
    before = comparable(dciodvfy_errors(CORPUS / name))
    after = comparable(dciodvfy_errors(outputs[name]))
    assert after - before == set(), sorted(after - before)


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_the_pixel_data_bytes_are_unchanged(outputs: dict[str, Path], name: str) -> None:
    source, output = dcmread(CORPUS / name), dcmread(outputs[name])
    assert output.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
    present = [tag for tag in PIXEL_TAGS if tag in source]
    assert present
    for tag in present:
        assert output[tag].value == source[tag].value, f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_the_output_says_it_is_deidentified(outputs: dict[str, Path], name: str) -> None:
    """The written file, read back: Patient Identity Removed and the method's codes."""
    output = dcmread(outputs[name])
    assert output.PatientIdentityRemoved == "YES"
    codes = {(item.CodeValue, item.CodingSchemeDesignator)
             for item in output.DeidentificationMethodCodeSequence}
    assert ("113100", "DCM") in codes
    assert output.DeidentificationMethod
