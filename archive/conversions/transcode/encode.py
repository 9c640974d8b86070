"""One frame in, one codestream out: pydicom's encoders (RLE, JPEG-LS, JPEG 2000) and
imagecodecs (libjpeg-turbo for the three JPEG processes, OpenJPH for HTJ2K)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import imagecodecs
import numpy as np
from pydicom.pixels import get_encoder

from archive.conversions.outcome import ConversionFailed
from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode.options import DEFAULT_J2K_RATIO, TranscodeOptions
from archive.conversions.transcode.rules import refusal_with_advice
from archive.conversions.transcode.source import Layout

T = TargetSyntax
LOSSY_METHODS: dict[TargetSyntax, str] = {
    T.JPEG_BASELINE: "ISO_10918_1", T.JPEG_EXTENDED: "ISO_10918_1",
    T.JPEG_LS_NEAR_LOSSLESS: "ISO_14495_1", T.J2K_LOSSY: "ISO_15444_1",
    T.HTJ2K_LOSSY: "ISO_15444_15",
}
PYDICOM_ENCODED = (T.RLE, T.JPEG_LS_LOSSLESS, T.JPEG_LS_NEAR_LOSSLESS, T.J2K_LOSSLESS,
                   T.J2K_LOSSY)


def htj2k_step(quality: int) -> float:
    """OpenJPH's quantisation step (a fraction of the full sample range) for a quality
    1–100: 100 gives 1e-4, 90 gives 2e-4, 50 gives 3e-3, 1 gives 0.1."""
    return float(10 ** (-1 - 3 * min(100, max(1, quality)) / 100))


@dataclass(frozen=True)
class FrameCodec:
    target: TargetSyntax
    photometric: str  # as written
    planar: int  # as written (samples > 1)
    encode: Callable[[np.ndarray], bytes]


def _strip_app0(stream: bytes) -> bytes:
    """Drop libjpeg's JFIF APP0 segment: it would tell decoders the samples are YCbCr."""
    if stream[2:4] == b"\xff\xe0":
        length = int.from_bytes(stream[4:6], "big")
        return stream[:2] + stream[4 + length:]
    return stream


def _unsigned(frame: np.ndarray, layout: Layout) -> np.ndarray:
    """Signed samples as their two's complement pattern in Bits Stored bits."""
    if not layout.signed:
        return frame
    unsigned = frame.view(frame.dtype.str.replace("i", "u"))
    return unsigned & np.array((1 << layout.bits_stored) - 1, dtype=unsigned.dtype)


def _pydicom(target: TargetSyntax, layout: Layout, photometric: str, planar: int,
             options: TranscodeOptions) -> Callable[[np.ndarray], bytes]:
    encoder = get_encoder(target.uid)
    kwargs: dict[str, Any] = dict(
        rows=layout.rows, columns=layout.columns, samples_per_pixel=layout.samples,
        bits_allocated=layout.bits_allocated, bits_stored=layout.bits_stored,
        pixel_representation=int(layout.signed), photometric_interpretation=photometric,
        number_of_frames=1, planar_configuration=planar)
    if target == T.JPEG_LS_NEAR_LOSSLESS:
        kwargs["jls_error"] = options.near
    if target == T.J2K_LOSSY:
        if options.j2k_psnr is not None:
            kwargs["j2k_psnr"] = [options.j2k_psnr]
        else:
            kwargs["j2k_cr"] = [options.j2k_ratio or DEFAULT_J2K_RATIO]

    def encode(frame: np.ndarray) -> bytes:
        return bytes(encoder.encode(frame, **kwargs))
    return encode


def _jpeg(target: TargetSyntax, layout: Layout,
          options: TranscodeOptions) -> Callable[[np.ndarray], bytes]:
    bits = 8 if layout.bits_allocated == 8 else min(16, layout.bits_stored)
    if target == T.JPEG_LOSSLESS_SV1:
        def lossless(frame: np.ndarray) -> bytes:
            data = _unsigned(frame, layout)
            return _strip_app0(bytes(imagecodecs.jpeg8_encode(
                data, lossless=True, predictor=1, bitspersample=max(2, bits))))
        return lossless
    level = options.jpeg_quality
    if target == T.JPEG_EXTENDED:
        precision = 8 if layout.bits_allocated == 8 else 12

        def extended(frame: np.ndarray) -> bytes:
            return bytes(imagecodecs.jpeg8_encode(frame, level, bitspersample=precision))
        return extended

    def baseline(frame: np.ndarray) -> bytes:
        if frame.ndim == 3:
            return bytes(imagecodecs.jpeg8_encode(frame, level, subsampling="422"))
        return bytes(imagecodecs.jpeg8_encode(frame, level))
    return baseline


def _htj2k(target: TargetSyntax, options: TranscodeOptions) -> Callable[[np.ndarray], bytes]:
    if target == T.HTJ2K_LOSSLESS:
        def lossless(frame: np.ndarray) -> bytes:
            return bytes(imagecodecs.htj2k_encode(frame, reversible=True, rgb=False))
        return lossless
    step = htj2k_step(options.jpeg_quality)

    def lossy(frame: np.ndarray) -> bytes:
        return bytes(imagecodecs.htj2k_encode(frame, step, reversible=False, rgb=False))
    return lossy


def written_photometric(target: TargetSyntax, photometric: str, layout: Layout) -> str:
    if target == T.JPEG_BASELINE and layout.samples == 3:
        return "YBR_FULL_422"  # libjpeg converts RGB to YCbCr with 4:2:2 subsampling
    return photometric


def written_planar(target: TargetSyntax, layout: Layout, options: TranscodeOptions,
                   natural: int) -> int:
    """RLE holds colour by plane (PS3.5 G.2 note), JPEG/JPEG-LS/J2K by pixel (0)."""
    if layout.samples == 1:
        return 0
    if target == T.RLE:
        return 1
    if target.is_encapsulated:
        return 0
    return options.planar_configuration if options.planar_configuration is not None else natural


def codec_for(target: TargetSyntax, layout: Layout, photometric: str,
              options: TranscodeOptions, natural_planar: int) -> FrameCodec:
    """The encoder of one frame of this layout (decoded as ``photometric``)."""
    reason = refusal_with_advice(target, layout, photometric)
    if reason:
        raise ConversionFailed(reason)
    planar = written_planar(target, layout, options, natural_planar)
    out_photometric = written_photometric(target, photometric, layout)
    if target in PYDICOM_ENCODED:
        encode = _pydicom(target, layout, photometric, 0, options)
    elif target in (T.JPEG_BASELINE, T.JPEG_EXTENDED, T.JPEG_LOSSLESS_SV1):
        encode = _jpeg(target, layout, options)
    elif target in (T.HTJ2K_LOSSLESS, T.HTJ2K_LOSSY):
        encode = _htj2k(target, options)
    else:
        raise ConversionFailed(f"{target.label} is not a compressed syntax")
    return FrameCodec(target, out_photometric, planar, _guarded(encode, target))


def _guarded(encode: Callable[[np.ndarray], bytes],
             target: TargetSyntax) -> Callable[[np.ndarray], bytes]:
    def run(frame: np.ndarray) -> bytes:
        try:
            return encode(np.ascontiguousarray(frame))
        except ConversionFailed:
            raise
        except Exception as exc:  # the encoders raise RuntimeError, ValueError, their own
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = lines[-1] if lines else type(exc).__name__
            raise ConversionFailed(f"the {target.label} encoder refused a frame: {detail}") from exc
    return run
