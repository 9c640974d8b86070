"""Frames as uncompressed bytes in the target's byte order (OW swapped by sample size in
Explicit VR Big Endian), by pixel or by plane, 1-bit frames packed across frame edges."""

from __future__ import annotations

import numpy as np
from pydicom.uid import UID

from archive.conversions.transcode.source import Layout


class NativeFrames:
    def __init__(self, layout: Layout, syntax: UID, planar: int) -> None:
        self.layout = layout
        self.planar = planar
        kind = "i" if layout.signed else "u"
        order = "<" if syntax.is_little_endian else ">"
        size = max(1, layout.bits_allocated // 8)
        self.dtype = np.dtype(f"{order}{kind}{size}")
        self.bits = np.zeros(0, dtype=np.uint8)  # 1-bit samples not yet packed

    @property
    def vr(self) -> str:
        return "OW" if self.layout.bits_allocated > 8 else "OB"

    def encode(self, frame: np.ndarray) -> bytes:
        if self.layout.bits_allocated == 1:
            return self._packed(frame)
        if frame.ndim == 3 and self.planar == 1:
            frame = frame.transpose(2, 0, 1)
        return np.ascontiguousarray(frame, dtype=self.dtype).tobytes()

    def _packed(self, frame: np.ndarray) -> bytes:
        bits = np.concatenate([self.bits, (frame.ravel() != 0).astype(np.uint8)])
        whole = len(bits) - len(bits) % 8
        self.bits = bits[whole:]
        return np.packbits(bits[:whole], bitorder="little").tobytes()

    def flush(self) -> bytes:
        """The last partial byte of 1-bit data (zero-padded)."""
        if not len(self.bits):
            return b""
        rest, self.bits = self.bits, np.zeros(0, dtype=np.uint8)
        return np.packbits(rest, bitorder="little").tobytes()
