"""Which identifying values a data set holds, and whether any of them is still somewhere in
a de-identified output file.

``identifying_values`` collects, from the standard attributes of the input (at any depth of
nesting, and from the File Meta Information's AE titles), the values PS3.15 Annex E is there
to remove: the patient's name, IDs, birth date, address and telephone numbers, the
accession number, the institution, every Person Name (PN) attribute — physicians, operators,
performers, the PNAME items of an SR — and every date (DA, and the date part of DT) unless
the dates are retained.

``scan_file`` then looks for those values in the raw bytes of the output file — file meta,
private elements, sequences, undecoded text, all of it — and in its file name, so a leak is
found whatever attribute (or none) it ended up in. One thing is not searched: the value of
Pixel Data (7FE0,0010), Float Pixel Data (7FE0,0008) and Double Float Pixel Data
(7FE0,0009) at the top level. De-identification leaves pixel bytes as they are unless asked,
so a byte pattern in there is an accident of the image, not text PHI; burned-in text is a
matter for the Clean Pixel Data option and Burned In Annotation, which no byte search can
judge. A Deflated Explicit VR Little Endian file is searched after inflating its data set.

Matching ignores ASCII case and wants a boundary: a value that begins (ends) with a letter or
digit must not have a letter or digit just before (after) it, so the component "Ann" is not
found in "SCANNER". A date wants only a non-digit before it, so it is found as the date part
of a DT or of a UID component.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from archive.deid.layout import FileLayout

MIN_LENGTH = 3
"""Shorter values (after stripping spaces and ``^``) are not collected: two letters or digits
turn up everywhere in a file and say nothing about a person."""

PLACEHOLDERS = frozenset({"ANONYMOUS", "ANONYMIZED", "ANONYMISED", "UNKNOWN", "NONE", "N/A"})
"""Values a modality or an earlier de-identifier writes *instead of* a person's data. Finding
one again in the output proves nothing, and a de-identifier's own dummy value may be one of
them, so they are not collected. Besides these, only a name part equal to a code string and
a value equal to the Manufacturer are dropped (see ``identifying_values``): a doubtful value
is reported."""

TEXT_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "IssuerOfPatientID",
    "AccessionNumber",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "MedicalRecordLocator",
    "PersonAddress",
    "PersonTelephoneNumbers",
)
"""Non-PN attributes whose values identify the patient, a person, the order or the
institution, matched at any depth (a PatientID in Other Patient IDs Sequence too)."""

FILE_META_AE_TITLES = {
    0x00020016: "SourceApplicationEntityTitle",
    0x00020017: "SendingApplicationEntityTitle",
    0x00020018: "ReceivingApplicationEntityTitle",
}
"""The File Meta Information's AE titles: a hospital's modality or PACS by name."""

COLLECTED_VRS = frozenset({"DA", "DT", "PN", "CS", "LO", "SH", "ST", "LT", "UT", "UC", "AE"})
_NAME_PARTS = 3  # family, given, middle; a prefix or suffix ("Dr.", "Jr.") identifies nobody


@dataclass(frozen=True)
class PhiValue:
    """One identifying value of the input: where it was (``"PatientName"`` or a path such as
    ``"(0040,A730)[2] > (0040,A123)"``) and its text (a date always as YYYYMMDD)."""

    source: str
    text: str


@dataclass(frozen=True)
class PhiFinding:
    """An identifying value found in an output: ``where`` is ``"file name"`` or
    ``"byte 1234 in (0009,1010)"`` (an offset into the file, or into the inflated data set
    of a deflated file)."""

    value: PhiValue
    where: str


def identifying_values(
    ds: Dataset,
    retained_dates: bool = False,
    file_meta: bool = True,
    keep: Iterable[str] = (),
) -> list[PhiValue]:
    """The identifying values of ``ds`` (see the module docstring), without repeats.

    ``retained_dates``: the output may keep the dates (Retain Longitudinal Temporal
    Information with Full Dates), so DA/DT values are not collected; the birth date still is,
    unless it equals a date that may stay. ``file_meta``: also the File Meta AE titles.
    ``keep``: keywords an option lets stay (e.g. ``InstitutionName`` under Retain
    Institution Identity); their values are not collected.

    A value equal to the Manufacturer (0008,0070) is not collected either: no profile
    removes the manufacturer (Table E.1-1 does not list it), and a vendor's own test image
    names the vendor as the institution too (OFFIS in DCMTK's), so finding it proves
    nothing."""
    kept = frozenset(keep)
    found: list[PhiValue] = []
    dates: set[str] = set()
    walked = [(prefix, element) for prefix, element in _walk(ds, "")
              if element.VR in COLLECTED_VRS]  # one walk; the paths are made only for hits
    terms = _code_strings(element for _, element in walked)
    for prefix, element in walked:
        vr = element.VR
        if vr == "CS":
            continue
        keyword = element.keyword
        if keyword in kept or (vr not in ("DA", "DT", "PN") and keyword not in TEXT_KEYWORDS):
            continue
        source = prefix + _path_step(element)
        for text in _texts(element):
            if vr in ("DA", "DT"):
                date = _date(text)
                if date and keyword != "PatientBirthDate":
                    dates.add(date)
                if date and (not retained_dates or keyword == "PatientBirthDate"):
                    found.append(PhiValue(source, date))
            elif vr == "PN":
                found.extend(PhiValue(source, part) for part in _name_parts(text, terms))
            else:
                found.append(PhiValue(source, text.strip()))
    meta = getattr(ds, "file_meta", None) if file_meta else None
    if meta is not None:
        for tag, keyword in FILE_META_AE_TITLES.items():
            value = meta.get(tag)
            if value is not None and value.value and keyword not in kept:
                found.append(PhiValue(keyword, str(value.value).strip()))
    if retained_dates:
        found = [v for v in found if not (_is_birth_date(v) and v.text in dates)]
    makers = {str(m).strip().lower() for m in _texts(ds["Manufacturer"])} if (
        "Manufacturer" in ds) else set()
    return _useful(v for v in found if v.text.lower() not in makers)


def scan_bytes(
    data: bytes, values: Sequence[PhiValue], skip: Sequence[tuple[int, int]] = ()
) -> list[PhiFinding]:
    """Every place of ``data`` (outside the ``skip`` ranges, ``[start, end)``) where one of
    ``values`` occurs in one of the forms a writer may give it; ``where`` is ``"byte N"``."""
    return [PhiFinding(v, f"byte {at}") for at, v in _Matcher(values).search(data, skip)]


def scan_file(
    path: Path,
    values: Sequence[PhiValue],
    name: str | None = None,
    retained_uids: Collection[str] = (),
) -> list[PhiFinding]:
    """Every place of the file at ``path`` (all its bytes but the top-level pixel data value
    and the ciphertext of an Encrypted Attributes Sequence) and of its name (``name``, or
    the file's own) where one of ``values`` occurs.

    ``retained_uids``: UIDs that may stay (the input's, under the Retain UIDs Option, see
    ``uid_values``): a value found only as part of one of them (a date inside a UID made
    of the acquisition time) is not reported."""
    matcher, kept = _Matcher(values), frozenset(retained_uids)
    file_name = (name if name is not None else path.name).encode("utf-8", "replace")
    findings = [PhiFinding(v, "file name") for at, v in matcher.search(file_name, ())
                if not _inside_uid(file_name, at, kept)]
    layout = FileLayout.of(path.read_bytes())
    for at, value in matcher.search(layout.data, layout.pixels):
        if not _inside_uid(layout.data, at, kept):
            findings.append(PhiFinding(value, layout.describe(at)))
    return findings


def uid_values(ds: Dataset) -> frozenset[str]:
    """Every UI value of ``ds`` at any depth (and of its file meta)."""
    meta = getattr(ds, "file_meta", None)
    elements = [e for _, e in _walk(ds, "")] + (list(meta) if meta is not None else [])
    return frozenset(text.strip("\0 ") for e in elements if e.VR == "UI" for text in _texts(e))


def _inside_uid(data: bytes, at: int, uids: frozenset[str]) -> bool:
    """Whether offset ``at`` of ``data`` falls inside an occurrence of one of ``uids``."""
    for uid in uids:
        text = uid.encode("ascii", "replace")
        found = data.find(text, max(0, at - len(text) + 1), at + len(text))
        while 0 <= found <= at:
            if at < found + len(text):
                return True
            found = data.find(text, found + 1, at + len(text))
    return False


# --- collecting ---------------------------------------------------------------------------


def _is_birth_date(value: PhiValue) -> bool:
    return value.source.endswith("PatientBirthDate")


def _walk(ds: Dataset, prefix: str) -> Iterator[tuple[str, DataElement]]:
    """(path of its container, element) for every standard element of ``ds``, into every
    sequence item; the element's own path is ``prefix + _path_step(element)``."""
    for element in ds:
        if element.VR == "SQ":
            here = _path_step(element)
            for index, item in enumerate(element.value or ()):
                yield from _walk(item, f"{prefix}{here}[{index}] > ")
        elif not element.tag.is_private and element.tag.group != 0x0002:
            yield prefix, element


def _path_step(element: DataElement) -> str:
    if element.keyword and element.tag.group not in (0x5000, 0x6000):
        return element.keyword
    return f"({element.tag.group:04X},{element.tag.element:04X})"


def _texts(element: DataElement) -> list[str]:
    """The element's values as text (a PN as its ``^``/``=`` form)."""
    value = element.value
    if value is None or isinstance(value, bytes | bytearray):
        return []
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    return [str(v) for v in values if v is not None and str(v).strip()]


def _date(text: str) -> str:
    """YYYYMMDD from a DA (also the old ``YYYY.MM.DD``) or from the start of a DT."""
    digits = text.strip().replace(".", "")[:8]
    return digits if len(digits) == 8 and digits.isdigit() else ""


def _name_parts(text: str, terms: frozenset[str]) -> list[str]:
    """A PN value whole (trailing empty components dropped) and its family, given and middle
    names, in each of its component groups (alphabetic, ideographic, phonetic). A name part
    that is also one of the data set's code strings (``terms``) is left out: a test patient
    named "Perfusion^MCA" shares "PERFUSION" with the Image Type, which stays, so finding it
    proves nothing (the whole name is still collected)."""
    parts = [text.rstrip("^= ")]
    for group in text.split("="):
        parts.append(group.rstrip("^ "))
        parts.extend(p for p in group.split("^")[:_NAME_PARTS] if p.strip().lower() not in terms)
    return [p.strip() for p in parts]


def _code_strings(elements: Iterable[DataElement]) -> frozenset[str]:
    """Every CS value among ``elements``, lower-cased: defined terms, never a person."""
    return frozenset(text.strip().lower() for element in elements
                     if element.VR == "CS" for text in _texts(element))


def _useful(values: Iterable[PhiValue]) -> list[PhiValue]:
    seen: set[tuple[str, str]] = set()
    kept: list[PhiValue] = []
    for value in values:
        bare = value.text.strip(" ^")
        key = (value.source, value.text)
        if len(bare) < MIN_LENGTH or bare.upper() in PLACEHOLDERS or key in seen:
            continue
        seen.add(key)
        kept.append(value)
    return kept


# --- searching ----------------------------------------------------------------------------


ENCODINGS = ("utf-8", "latin-1", "iso2022_jp", "euc_kr", "gb18030", "iso8859_5", "iso8859_7",
             "iso8859_8", "iso8859_6", "tis_620")
"""The character sets of PS3.3 C.12.1.1.2 as Python codecs (ISO 2022 IR 149 is EUC-KR after
its escape, IR 87 is ISO-2022-JP's JIS X 0208): a value is searched in each that can
encode it, whatever the output's Specific Character Set says."""


def _forms(text: str) -> set[bytes]:
    """The byte strings a writer may have made of ``text``: its encodings, for a PN the same
    with ``^`` as a space, for a date also ``YYYY.MM.DD`` (ACR-NEMA); lower-cased, as the
    search runs over lower-cased bytes so that case does not matter."""
    texts = {text, text.replace("^", " ")}
    if len(text) == 8 and text.isdigit():
        texts.add(f"{text[:4]}.{text[4:6]}.{text[6:]}")
    forms: set[bytes] = set()
    for t in texts:
        for codec in ENCODINGS:
            try:
                forms.add(t.encode(codec).lower())
            except UnicodeEncodeError:
                continue
    return {f for f in forms if f}


_DIGITS = frozenset(b"0123456789")
_WORD = _DIGITS | frozenset(b"abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class _Form:
    """One byte form of a value (lower-cased) and the boundaries it wants around it."""

    text: bytes
    left: frozenset[int]  # bytes that must not come just before it
    right: frozenset[int]  # bytes that must not come just after it

    @classmethod
    def of(cls, text: bytes, is_date: bool) -> _Form:
        left = (_DIGITS if is_date else _WORD) if text[0] in _WORD else frozenset()
        right = _WORD if text[-1] in _WORD and not is_date else frozenset()
        return cls(text, left, right)

    def occurrences(self, data: bytes) -> Iterator[int]:
        """The offsets where this form stands in ``data`` within its boundaries."""
        at = data.find(self.text)
        while at >= 0:
            end = at + len(self.text)
            if (at == 0 or data[at - 1] not in self.left) and (
                end == len(data) or data[end] not in self.right
            ):
                yield at
            at = data.find(self.text, at + 1)


class _Matcher:
    """The forms of all the values, and the values each form stands for. One ``bytes.find``
    pass per form over the lower-cased bytes: faster here than one regular expression of
    alternatives, which cannot skip ahead on a literal once it has lookbehinds."""

    def __init__(self, values: Sequence[PhiValue]) -> None:
        self.by_form: dict[_Form, list[PhiValue]] = {}
        for value in values:
            is_date = len(value.text) == 8 and value.text.isdigit()
            for text in _forms(value.text):
                self.by_form.setdefault(_Form.of(text, is_date), []).append(value)

    def search(self, data: bytes, skip: Sequence[tuple[int, int]]) -> list[tuple[int, PhiValue]]:
        """(offset, value) for every occurrence outside the ``skip`` ranges."""
        hits: list[tuple[int, PhiValue]] = []
        start = 0
        for begin, end in [*sorted(skip), (len(data), len(data))]:
            chunk = data[start:begin].lower()
            for form, values in self.by_form.items():
                hits.extend((start + at, v) for at in form.occurrences(chunk) for v in values)
            start = max(start, end)
        return sorted(hits, key=lambda hit: hit[0])
