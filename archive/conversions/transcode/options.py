"""What a transcode is asked to do (the job layer builds it from the job's parameters)."""

from __future__ import annotations

from dataclasses import dataclass

from archive.conversions.syntaxes import TargetSyntax

DEFAULT_QUALITY = 90
DEFAULT_J2K_RATIO = 10.0


@dataclass(frozen=True)
class TranscodeOptions:
    target: TargetSyntax
    quality: int | None = None  # JPEG baseline/extended and HTJ2K lossy, 1–100 (default 90)
    near: int = 2  # JPEG-LS near-lossless NEAR
    j2k_ratio: float | None = None  # JPEG 2000 lossy: compression ratio (10 for 10:1)
    j2k_psnr: float | None = None  # or a PSNR target in dB
    new_uid: bool = False  # a lossy result always gets a new SOP Instance UID
    fragment_size: int | None = None  # None: one fragment per frame; else at most this many
    planar_configuration: int | None = None  # 0/1 for native colour output; None: natural
    uid_root: str | None = None  # prefix of generated UIDs (pydicom's when None)

    @property
    def jpeg_quality(self) -> int:
        return self.quality if self.quality is not None else DEFAULT_QUALITY

    @property
    def fragment_bytes(self) -> int | None:
        """The fragment size rounded down to an even number of bytes (items are even)."""
        if self.fragment_size is None:
            return None
        return max(2, self.fragment_size - self.fragment_size % 2)

    @property
    def changes_layout(self) -> bool:
        """Options that make a copy in the same syntax differ from its source."""
        return self.fragment_size is not None or self.planar_configuration is not None
