"""The transfer syntaxes a transcode job can write, and how the peer tools name them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)


class TargetSyntax(StrEnum):
    """A target of ``transcode``: the value is what forms and ``POST /api/jobs`` send."""

    IMPLICIT_LE = "implicit_le"
    EXPLICIT_LE = "explicit_le"
    EXPLICIT_BE = "explicit_be"
    DEFLATED_LE = "deflated_le"
    RLE = "rle"
    JPEG_BASELINE = "jpeg_baseline"
    JPEG_EXTENDED = "jpeg_extended"
    JPEG_LOSSLESS_SV1 = "jpeg_lossless_sv1"
    JPEG_LS_LOSSLESS = "jpeg_ls_lossless"
    JPEG_LS_NEAR_LOSSLESS = "jpeg_ls_near_lossless"
    J2K_LOSSLESS = "j2k_lossless"
    J2K_LOSSY = "j2k_lossy"
    HTJ2K_LOSSLESS = "htj2k_lossless"
    HTJ2K_LOSSY = "htj2k_lossy"

    @property
    def spec(self) -> SyntaxSpec:
        return SPECS[self]

    @property
    def uid(self) -> UID:
        return self.spec.uid

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def is_lossy(self) -> bool:
        return self.spec.lossy

    @property
    def is_encapsulated(self) -> bool:
        return self.uid.is_encapsulated


@dataclass(frozen=True)
class SyntaxSpec:
    uid: UID
    label: str
    lossy: bool
    gdcmconv: str | None  # gdcmconv's options for it; None: GDCM cannot write it
    dcmtk: str | None  # the DCMTK tool and options; None: DCMTK cannot write it
    encoder: str  # the library that encodes it here (README: "Conversions")


SPECS: dict[TargetSyntax, SyntaxSpec] = {
    TargetSyntax.IMPLICIT_LE: SyntaxSpec(
        ImplicitVRLittleEndian, "Implicit VR Little Endian", False, "--implicit --raw",
        "dcmconv +ti", "pydicom"),
    TargetSyntax.EXPLICIT_LE: SyntaxSpec(
        ExplicitVRLittleEndian, "Explicit VR Little Endian", False, "--explicit --raw",
        "dcmconv +te", "pydicom"),
    TargetSyntax.EXPLICIT_BE: SyntaxSpec(
        ExplicitVRBigEndian, "Explicit VR Big Endian (retired)", False, None,
        "dcmconv +tb", "pydicom"),
    TargetSyntax.DEFLATED_LE: SyntaxSpec(
        DeflatedExplicitVRLittleEndian, "Deflated Explicit VR Little Endian", False,
        "--deflated", "dcmconv +td", "pydicom (zlib)"),
    TargetSyntax.RLE: SyntaxSpec(
        RLELossless, "RLE Lossless", False, "--rle", "dcmcrle", "pylibjpeg-rle"),
    TargetSyntax.JPEG_BASELINE: SyntaxSpec(
        JPEGBaseline8Bit, "JPEG Baseline (Process 1, 8-bit)", True, "--jpeg --lossy",
        "dcmcjpeg +eb", "imagecodecs (libjpeg-turbo)"),
    TargetSyntax.JPEG_EXTENDED: SyntaxSpec(
        JPEGExtended12Bit, "JPEG Extended (Process 2 & 4, 12-bit)", True, "--jpeg --lossy",
        "dcmcjpeg +ee", "imagecodecs (libjpeg-turbo)"),
    TargetSyntax.JPEG_LOSSLESS_SV1: SyntaxSpec(
        JPEGLosslessSV1, "JPEG Lossless SV1 (Process 14)", False, "--jpeg",
        "dcmcjpeg +e1", "imagecodecs (libjpeg-turbo)"),
    TargetSyntax.JPEG_LS_LOSSLESS: SyntaxSpec(
        JPEGLSLossless, "JPEG-LS Lossless", False, "--jpegls", "dcmcjpls", "pyjpegls"),
    TargetSyntax.JPEG_LS_NEAR_LOSSLESS: SyntaxSpec(
        JPEGLSNearLossless, "JPEG-LS Near-Lossless", True, "--jpegls --lossy",
        "dcmcjpls +en", "pyjpegls"),
    TargetSyntax.J2K_LOSSLESS: SyntaxSpec(
        JPEG2000Lossless, "JPEG 2000 Lossless", False, "--j2k", None,
        "pylibjpeg-openjpeg"),
    TargetSyntax.J2K_LOSSY: SyntaxSpec(
        JPEG2000, "JPEG 2000 (lossy)", True, "--j2k --lossy", None, "pylibjpeg-openjpeg"),
    TargetSyntax.HTJ2K_LOSSLESS: SyntaxSpec(
        HTJ2KLossless, "HTJ2K Lossless", False, None, None, "imagecodecs (OpenJPH)"),
    TargetSyntax.HTJ2K_LOSSY: SyntaxSpec(
        HTJ2K, "HTJ2K (lossy)", True, None, None, "imagecodecs (OpenJPH)"),
}


def target_for_uid(uid: str) -> TargetSyntax | None:
    return next((t for t, spec in SPECS.items() if spec.uid == uid), None)
