"""Each media profile accepts and refuses transfer syntaxes as dcmmkdir -P… does."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from archive.media.profiles import MediaProfile
from tests.record_key_helpers import CORPUS, PYDICOM_FILES, dcmmkdir

SOURCES = {
    "1.2.840.10008.1.2": CORPUS / "gdcm-US-ALOKA-16.dcm",
    "1.2.840.10008.1.2.1": CORPUS / "SC_rgb.dcm",
    "1.2.840.10008.1.2.2": CORPUS / "SC_rgb_expb.dcm",
    "1.2.840.10008.1.2.4.50": PYDICOM_FILES / "SC_rgb_jpeg_dcmtk.dcm",
    "1.2.840.10008.1.2.4.51": PYDICOM_FILES / "JPGExtended.dcm",
    "1.2.840.10008.1.2.4.70": CORPUS / "JPEG-LL.dcm",
    "1.2.840.10008.1.2.4.80": CORPUS / "JLSL_08_07_0_1F.dcm",
    "1.2.840.10008.1.2.4.81": PYDICOM_FILES / "JPEGLSNearLossless_08.dcm",
    "1.2.840.10008.1.2.4.90": CORPUS / "MR2_J2KR.dcm",
    "1.2.840.10008.1.2.4.91": CORPUS / "MR2_J2KI.dcm",
    "1.2.840.10008.1.2.5": CORPUS / "OBXXXX1A_rle.dcm",
    "1.2.840.10008.1.2.4.201": CORPUS / "HTJ2KLossless_08_RGB.dcm",
}
# Relabelled copies of JPEG-LL.dcm as a multi-frame video image (dcmmkdir checks only the label).
RELABELLED = ["1.2.840.10008.1.2.4.57", *(f"1.2.840.10008.1.2.4.{n}" for n in range(100, 107))]
VIDEO_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.1.1"


def _complete(ds: pydicom.Dataset, index: int) -> None:
    fill = {"PatientName": "P^X", "PatientID": f"P{index}", "Modality": "OT",
            "StudyInstanceUID": f"1.2.826.0.1.3680043.8.498.5.{index}",
            "SeriesInstanceUID": f"1.2.826.0.1.3680043.8.498.6.{index}",
            "StudyDate": "20200101", "StudyTime": "120000", "StudyID": "1",
            "SeriesNumber": "1", "InstanceNumber": "1"}
    for keyword, value in fill.items():
        if not ds.get(keyword):
            setattr(ds, keyword, value)
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.7.{index}"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("profiles")
    names: dict[str, str] = {}
    for index, (syntax, source) in enumerate(SOURCES.items(), start=1):
        ds = pydicom.dcmread(source)
        _complete(ds, index)
        ds.save_as(folder / f"TS{index:06d}", enforce_file_format=True)
        names[f"TS{index:06d}"] = syntax
    for index, syntax in enumerate(RELABELLED, start=100):
        ds = pydicom.dcmread(SOURCES["1.2.840.10008.1.2.4.70"])
        _complete(ds, index)
        ds.file_meta.TransferSyntaxUID = pydicom.uid.UID(syntax)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.UID(VIDEO_CLASS)
        ds.NumberOfFrames = 2
        ds.save_as(folder / f"TS{index:06d}")
        names[f"TS{index:06d}"] = syntax
    return folder, names


@pytest.mark.parametrize("profile", list(MediaProfile))
def test_profile_verdicts_equal_dcmmkdirs(profile: MediaProfile,
                                          files: tuple[Path, dict[str, str]]) -> None:
    folder, names = files
    for name, syntax in names.items():
        log = dcmmkdir(folder, [name], profile.dcmmkdir_option, "-w").log
        accepted = "DICOMDIR not created" not in log  # -w: checked, never written
        refusal = profile.refusal(syntax)
        assert (refusal is None) == accepted, f"{profile} {syntax}: ours {refusal}"
        if refusal is not None:
            assert profile.value in refusal and syntax in refusal


def test_capacities_and_labels() -> None:
    assert MediaProfile.STD_GEN_CD.capacity_bytes == 700 * 1024 * 1024
    assert MediaProfile.STD_GEN_DVD_JPEG.capacity_bytes == 4_700_000_000
    assert MediaProfile.STD_GEN_BD_J2K.capacity_bytes == 25_000_000_000
    assert MediaProfile.STD_GEN_USB_JPEG.capacity_bytes is None
    assert MediaProfile.STD_GEN_CD.allowed_syntaxes == {"1.2.840.10008.1.2.1"}
    assert all(profile.label for profile in MediaProfile)
