"""How far a lossy result is from its source: each encoded frame decoded again by pydicom's
decoders and compared with the source frame. PSNR is over all frames, its peak the range of
the source values (max − min, at least 1), so a CT with 4000 of 65536 levels is not flattered."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder

from archive.conversions.outcome import ConversionFailed
from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode.encode import FrameCodec
from archive.conversions.transcode.source import Layout


class Fidelity:
    def __init__(self, layout: Layout, target: TargetSyntax) -> None:
        self.layout = layout
        self.target = target
        self.squared = 0.0
        self.count = 0
        self.max_error = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.options: dict[str, Any] = {}

    def expect(self, codec: FrameCodec) -> None:
        layout = self.layout
        self.options = dict(
            rows=layout.rows, columns=layout.columns, samples_per_pixel=layout.samples,
            bits_allocated=layout.bits_allocated, bits_stored=layout.bits_stored,
            pixel_representation=int(layout.signed), number_of_frames=1,
            photometric_interpretation=codec.photometric, planar_configuration=codec.planar,
            transfer_syntax_uid=self.target.uid, pixel_keyword="PixelData")

    def add(self, frame: np.ndarray, data: bytes) -> None:
        encapsulated = encapsulate([data], has_bot=False)  # one fragment, empty offset table
        try:
            decoded, _ = get_decoder(self.target.uid).as_array(encapsulated, **self.options)
        except Exception as exc:
            raise ConversionFailed(f"the {self.target.label} result cannot be decoded again "
                                   f"to measure it: {exc}") from exc
        source = frame.astype(np.float64)
        error = decoded.reshape(frame.shape).astype(np.float64) - source
        self.squared += float(np.square(error).sum())
        self.count += error.size
        self.max_error = max(self.max_error, float(np.abs(error).max()))
        self.low = min(self.low, float(source.min()))
        self.high = max(self.high, float(source.max()))

    @property
    def psnr(self) -> float:
        if not self.count:
            return 0.0
        mse = self.squared / self.count
        peak = max(1.0, self.high - self.low)
        return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)

    def metrics(self) -> dict[str, float]:
        psnr = self.psnr
        return {"psnr_db": round(psnr, 2) if math.isfinite(psnr) else 999.0,
                "max_error": self.max_error}

    def describe(self) -> str:
        psnr = self.psnr
        shown = f"{psnr:.1f} dB" if math.isfinite(psnr) else "∞ dB (no error)"
        return f"PSNR {shown}, max error {self.max_error:g}"
