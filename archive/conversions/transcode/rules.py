"""Which targets can hold which pixel data (PS3.5 section 8.2 and the encoders' limits), and
the reason in words when one cannot, with the targets the operator could pick instead."""

from __future__ import annotations

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode.source import Layout

T = TargetSyntax
NATIVE = (T.IMPLICIT_LE, T.EXPLICIT_LE, T.EXPLICIT_BE, T.DEFLATED_LE)
JPEG_PROCESS = (T.JPEG_BASELINE, T.JPEG_EXTENDED)
MAX_BITS_STORED: dict[TargetSyntax, int] = {
    T.RLE: 16, T.JPEG_BASELINE: 8, T.JPEG_EXTENDED: 12, T.JPEG_LOSSLESS_SV1: 16,
    T.JPEG_LS_LOSSLESS: 16, T.JPEG_LS_NEAR_LOSSLESS: 16, T.J2K_LOSSLESS: 24, T.J2K_LOSSY: 24,
    T.HTJ2K_LOSSLESS: 16, T.HTJ2K_LOSSY: 16,
}
NO_PALETTE = (T.JPEG_BASELINE, T.JPEG_EXTENDED, T.JPEG_LS_NEAR_LOSSLESS, T.J2K_LOSSY,
              T.HTJ2K_LOSSY)
ENCODABLE_PHOTOMETRICS = {"MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL"}


def refusal(target: TargetSyntax, layout: Layout, photometric: str) -> str | None:
    """Why ``target`` cannot hold these pixels (as decoded), or None when it can."""
    if target in NATIVE:
        return None
    label = target.label
    if layout.bits_allocated == 1:
        return f"1-bit pixel data (Bits Allocated 1, e.g. a segmentation) has no {label} form"
    if layout.bits_allocated not in (8, 16, 32):
        return f"Bits Allocated {layout.bits_allocated} has no {label} form"
    if photometric not in ENCODABLE_PHOTOMETRICS or layout.samples not in (1, 3):
        return f"{photometric} with {layout.samples} samples per pixel has no {label} form"
    if photometric == "PALETTE COLOR" and target in NO_PALETTE:
        return f"PALETTE COLOR indices cannot be compressed lossily ({label})"
    limit = MAX_BITS_STORED[target]
    if layout.bits_stored > limit:
        return f"{layout.bits_stored}-bit data (Bits Stored) does not fit {label} (≤ {limit} bits)"
    if target in JPEG_PROCESS and layout.signed:
        return f"{label} holds unsigned samples only; this data is signed"
    if target == T.JPEG_BASELINE and layout.bits_allocated != 8:
        return f"{label} needs Bits Allocated 8; this data has {layout.bits_allocated}"
    if target == T.JPEG_EXTENDED and layout.samples != 1:
        return f"{label} holds greyscale images only"
    if target == T.JPEG_EXTENDED and layout.bits_allocated == 32:
        return f"{label} needs Bits Allocated 8 or 16"
    if target in (T.JPEG_LS_LOSSLESS, T.JPEG_LS_NEAR_LOSSLESS) and layout.bits_stored < 2:
        return f"{label} needs at least 2 bits stored"
    if target in (T.JPEG_LS_LOSSLESS, T.JPEG_LS_NEAR_LOSSLESS, T.RLE, T.JPEG_LOSSLESS_SV1,
                  T.HTJ2K_LOSSLESS, T.HTJ2K_LOSSY) and layout.bits_allocated == 32:
        return f"{label} holds at most 16 bits allocated; this data has 32"
    return None


def alternatives(layout: Layout, photometric: str, lossy: bool) -> list[TargetSyntax]:
    """Targets that can hold these pixels: lossless ones, lossy ones too if asked for one."""
    return [target for target in TargetSyntax
            if target not in NATIVE and (lossy or not target.is_lossy)
            and refusal(target, layout, photometric) is None]


def refusal_with_advice(target: TargetSyntax, layout: Layout, photometric: str) -> str | None:
    reason = refusal(target, layout, photometric)
    if reason is None:
        return None
    others = alternatives(layout, photometric, target.is_lossy)
    names = ", ".join(other.label for other in others[:4])
    advice = f"pick {names} or an uncompressed syntax" if others else (
        "pick an uncompressed syntax (Explicit VR Little Endian, Deflated)")
    return f"{reason}: {advice}"
