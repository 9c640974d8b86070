"""A JPEG (ISO 10918-1) file read as DICOM needs it, without decoding: its coding process and
transfer syntax from the frame header (SOF), its pixel description from the SOF and the JFIF
(APP0) and Adobe (APP14) segments, and where it ends. ``parse_jpeg`` walks every marker
segment and the entropy-coded data up to EOI, so a truncated or damaged file is refused with
the reason (``ConversionFailed``) before anything is written.

Transfer syntax by frame header (PS3.5 section 8.2.1, as dcm4che's and GDCM's parsers do):
SOF0 Baseline → 1.2.840.10008.1.2.4.50; SOF1 Extended → .51; SOF3 Lossless → .70 when the
predictor (Ss of the SOS) is 1, else .57; SOF2 Progressive → the retired .55, used only when the
caller accepts it. Arithmetic coding, hierarchical frames and JPEG-LS are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pydicom.uid import UID

from archive.conversions.outcome import ConversionFailed

SOI, EOI, SOS, DNL = 0xD8, 0xD9, 0xDA, 0xDC
APP0, APP14 = 0xE0, 0xEE
STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0–RST7: no length field
PROGRESSIVE_UID = UID("1.2.840.10008.1.2.4.55")  # JPEG Full Progression (Process 10 & 12), retired
LOSSY_METHOD = "ISO_10918_1"


class JpegProcess(StrEnum):
    """The coding process a frame header names (ITU-T T.81 table B.1)."""

    BASELINE = "baseline"
    EXTENDED = "extended"
    PROGRESSIVE = "progressive"
    LOSSLESS = "lossless"

    @property
    def label(self) -> str:
        return {"baseline": "JPEG Baseline (Process 1)",
                "extended": "JPEG Extended (Process 2 & 4)",
                "progressive": "JPEG Progressive (Process 10 & 12, retired in DICOM)",
                "lossless": "JPEG Lossless (Process 14)"}[self.value]

    @property
    def is_lossy(self) -> bool:
        return self != JpegProcess.LOSSLESS


SOF_PROCESSES = {0xC0: JpegProcess.BASELINE, 0xC1: JpegProcess.EXTENDED,
                 0xC2: JpegProcess.PROGRESSIVE, 0xC3: JpegProcess.LOSSLESS}
REFUSED_SOF = {
    **{m: "hierarchical (differential) JPEG" for m in (0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF)},
    **{m: "arithmetic-coded JPEG (its DICOM transfer syntaxes are retired)"
       for m in (0xC9, 0xCA, 0xCB)},
    0xF7: "JPEG-LS (SOF55), not ISO 10918-1 JPEG",
}
PRECISIONS = {JpegProcess.BASELINE: (8,), JpegProcess.EXTENDED: (8, 12),
              JpegProcess.PROGRESSIVE: (8, 12), JpegProcess.LOSSLESS: tuple(range(2, 17))}


@dataclass(frozen=True)
class Component:
    identifier: int
    horizontal: int  # sampling factors
    vertical: int


@dataclass(frozen=True)
class JpegInfo:
    """What the headers of one JPEG say. ``end`` is the offset just past its EOI marker:
    bytes after it (a second image, padding) are not part of this JPEG."""

    process: JpegProcess
    sof_marker: int
    precision: int
    rows: int
    columns: int
    components: int
    transfer_syntax_uid: UID
    photometric: str
    end: int
    predictor: int = 0  # lossless only: Ss of the first SOS (1–7)
    jfif: bool = False
    adobe_transform: int | None = None
    subsampled: bool = False
    app_segments: tuple[tuple[int, int], ...] = field(default=())  # (start, end) of APPn

    @property
    def bits_allocated(self) -> int:
        return 8 if self.precision <= 8 else 16

    @property
    def is_lossy(self) -> bool:
        return self.process.is_lossy

    @property
    def label(self) -> str:
        if self.process == JpegProcess.LOSSLESS:
            kind = "SV1" if self.predictor == 1 else f"predictor {self.predictor}"
            return f"{self.process.label}, {kind}"
        return self.process.label

    def describe(self) -> str:
        """One line for the operator: "JPEG Baseline (Process 1), 45×31, 3 × 8 bits"."""
        return (f"{self.label}, {self.columns}×{self.rows}, {self.components} × "
                f"{self.precision} bits, {self.photometric}")


def _fail(reason: str) -> ConversionFailed:
    return ConversionFailed(f"not a usable JPEG file: {reason}")


def _transfer_syntax(process: JpegProcess, predictor: int) -> UID:
    if process == JpegProcess.BASELINE:
        return UID("1.2.840.10008.1.2.4.50")
    if process == JpegProcess.EXTENDED:
        return UID("1.2.840.10008.1.2.4.51")
    if process == JpegProcess.LOSSLESS:
        return UID("1.2.840.10008.1.2.4.70" if predictor == 1 else "1.2.840.10008.1.2.4.57")
    return PROGRESSIVE_UID


def photometric_for(components: int, process: JpegProcess, jfif: bool,
                    adobe_transform: int | None, identifiers: tuple[int, ...]) -> str:
    """PS3.5 8.2.1 and the JFIF/Adobe conventions libjpeg follows: one component is
    MONOCHROME2; three are RGB when the Adobe segment says "no transform", when the component
    identifiers are 'R','G','B', or (lossless, no marker saying otherwise) as coded; else
    YCbCr: YBR_FULL_422 for the lossy processes whatever the chrominance sampling (what
    PS3.5 8.2.1 and dciodvfy require for JPEG, and what img2dcm, jpg2dcm and gdcmimg write),
    YBR_FULL for lossless."""
    if components == 1:
        return "MONOCHROME2"
    if adobe_transform is not None:
        is_rgb = adobe_transform == 0
    elif jfif:
        is_rgb = False
    elif identifiers == (0x52, 0x47, 0x42):
        is_rgb = True
    else:
        is_rgb = process == JpegProcess.LOSSLESS
    if is_rgb:
        return "RGB"
    return "YBR_FULL_422" if process.is_lossy else "YBR_FULL"


class _Reader:
    """The marker walk: segments, scans and the entropy-coded data between them."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 2
        self.sof: tuple[int, bytes] | None = None
        self.first_sos: bytes | None = None
        self.jfif = False
        self.adobe_transform: int | None = None
        self.apps: list[tuple[int, int]] = []

    def marker(self) -> int:
        data = self.data
        if self.pos >= len(data):
            raise _fail("the file ends before its EOI marker (truncated)")
        if data[self.pos] != 0xFF:
            raise _fail(f"a marker was expected at byte {self.pos}, found 0x{data[self.pos]:02X}")
        while self.pos < len(data) and data[self.pos] == 0xFF:  # fill bytes
            self.pos += 1
        if self.pos >= len(data):
            raise _fail("the file ends before its EOI marker (truncated)")
        marker = data[self.pos]
        self.pos += 1
        return marker

    def segment(self, marker: int) -> bytes:
        data, start = self.data, self.pos
        if start + 2 > len(data):
            raise _fail(f"the 0xFF{marker:02X} segment at byte {start - 2} is cut off (truncated)")
        length = int.from_bytes(data[start:start + 2], "big")
        if length < 2:
            raise _fail(f"the 0xFF{marker:02X} segment at byte {start - 2} has length {length}")
        if start + length > len(data):
            raise _fail(f"the 0xFF{marker:02X} segment at byte {start - 2} runs past the end of "
                        f"the file ({length} bytes announced, {len(data) - start} left: "
                        "truncated)")
        self.pos = start + length
        return data[start + 2:start + length]

    def entropy_data(self) -> None:
        """Skip the coded data of a scan: up to the next marker that is not RSTn."""
        data, pos = self.data, self.pos
        while True:
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= len(data):
                raise _fail("the file ends inside the compressed image data, before its EOI "
                            "marker (truncated)")
            following = data[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                pos += 1 if following == 0xFF else 2
                continue
            self.pos = pos
            return

    def note_app(self, marker: int, payload: bytes, start: int) -> None:
        self.apps.append((start, self.pos))
        if marker == APP0 and payload.startswith(b"JFIF\x00"):
            self.jfif = True
        if marker == APP14 and payload.startswith(b"Adobe") and len(payload) >= 12:
            self.adobe_transform = payload[11]

    def walk(self) -> int:
        """Every segment up to EOI; the offset just past EOI."""
        while True:
            start = self.pos
            marker = self.marker()
            if marker == EOI:
                if self.first_sos is None:
                    raise _fail("it has no image data (no SOS marker before EOI)")
                return self.pos
            if marker == SOI:
                raise _fail(f"a second SOI marker at byte {start}")
            if marker in STANDALONE:
                continue
            payload = self.segment(marker)
            if 0xE0 <= marker <= 0xEF:
                self.note_app(marker, payload, start)
            elif marker in REFUSED_SOF:
                raise ConversionFailed(f"{REFUSED_SOF[marker]} is not supported")
            elif marker in SOF_PROCESSES:
                if self.sof is not None:
                    raise _fail("it has more than one frame header (SOF)")
                self.sof = (marker, payload)
            elif marker == DNL:
                raise ConversionFailed("JPEG with its number of lines in a DNL marker is not "
                                       "supported")
            elif marker == SOS:
                if self.sof is None:
                    raise _fail("a scan (SOS) comes before the frame header (SOF)")
                if self.first_sos is None:
                    self.first_sos = payload
                self.entropy_data()


def _components(payload: bytes) -> tuple[int, int, int, list[Component]]:
    if len(payload) < 6:
        raise _fail("its frame header (SOF) is too short")
    precision = payload[0]
    rows = int.from_bytes(payload[1:3], "big")
    columns = int.from_bytes(payload[3:5], "big")
    count = payload[5]
    if count < 1 or len(payload) != 6 + 3 * count:
        raise _fail(f"its frame header (SOF) announces {count} components in "
                    f"{len(payload) + 2} bytes")
    components = [Component(payload[6 + 3 * i], payload[7 + 3 * i] >> 4,
                            payload[7 + 3 * i] & 0x0F) for i in range(count)]
    if any(not 1 <= c.horizontal <= 4 or not 1 <= c.vertical <= 4 for c in components):
        raise _fail("its frame header (SOF) has sampling factors outside 1–4")
    return precision, rows, columns, components


def parse_jpeg(data: bytes) -> JpegInfo:
    """The headers of a complete JPEG file; ``ConversionFailed`` when it is not one."""
    if not data.startswith(b"\xff\xd8\xff"):
        raise ConversionFailed("not a JPEG file (it does not start with the SOI marker)")
    reader = _Reader(data)
    end = reader.walk()
    assert reader.sof is not None and reader.first_sos is not None
    marker, payload = reader.sof
    process = SOF_PROCESSES[marker]
    precision, rows, columns, components = _components(payload)
    if precision not in PRECISIONS[process]:
        raise _fail(f"{precision}-bit samples are not allowed in {process.label}")
    if rows == 0 or columns == 0:
        raise _fail(f"its frame header gives a size of {columns}×{rows}")
    if len(components) not in (1, 3):
        raise ConversionFailed(f"a JPEG with {len(components)} components (e.g. CMYK) has no "
                               "DICOM form: 1 (greyscale) or 3 (colour) only")
    sos = reader.first_sos
    if len(sos) < 4 or len(sos) != 4 + 2 * sos[0]:
        raise _fail("its scan header (SOS) is malformed")
    predictor = sos[1 + 2 * sos[0]] if process == JpegProcess.LOSSLESS else 0
    if process == JpegProcess.LOSSLESS and not 1 <= predictor <= 7:
        raise _fail(f"lossless predictor {predictor} is outside 1–7")
    first = components[0]
    subsampled = any((c.horizontal, c.vertical) != (first.horizontal, first.vertical)
                     for c in components[1:])
    photometric = photometric_for(len(components), process, reader.jfif,
                                  reader.adobe_transform,
                                  tuple(c.identifier for c in components))
    return JpegInfo(process=process, sof_marker=marker, precision=precision, rows=rows,
                    columns=columns, components=len(components),
                    transfer_syntax_uid=_transfer_syntax(process, predictor),
                    photometric=photometric, end=end, predictor=predictor, jfif=reader.jfif,
                    adobe_transform=reader.adobe_transform, subsampled=subsampled,
                    app_segments=tuple(reader.apps))


def without_app_segments(data: bytes, info: JpegInfo) -> bytes:
    """The JPEG with its APPn segments (JFIF, Exif, ICC, Adobe…) left out, as
    ``jpg2dcm --no-app`` and img2dcm's default do; COM segments stay."""
    parts: list[bytes] = []
    position = 0
    for start, stop in info.app_segments:
        parts.append(data[position:start])
        position = stop
    parts.append(data[position:info.end])
    return b"".join(parts)


def jpeg_end(fragment: bytes) -> int:
    """The length of the JPEG in a DICOM fragment (which may end with one 0x00 pad byte):
    the offset just past the last EOI marker. For extracting the original file."""
    end = fragment.rstrip(b"\x00").rfind(b"\xff\xd9")
    return end + 2 if end >= 0 else len(fragment)
