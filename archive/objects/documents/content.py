"""Reading what a document says about itself: which kind it is (STL variant, CDA root, OBJ/MTL
statements) and the facts DICOM copies from it (a PDF's /Title, a CDA's id and title).

XML is parsed with expat directly, streaming, and any document type declaration is refused,
so no entity is ever expanded or fetched (no XXE, no "billion laughs").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.parsers import expat

from archive.conversions.outcome import ConversionFailed

HL7_V3 = "urn:hl7-org:v3"
CDA_ROOT = f"{HL7_V3} ClinicalDocument"  # expat's "namespace name" form
STL_HEADER = 80
STL_TRIANGLE = 50
STL_TAIL = 1024
TEXT_STATEMENTS = 200_000  # statements read to tell OBJ/MTL text apart
UNKNOWN_SHARE = 0.1  # at most this share of statements may be unknown ones
PDF_READ_LIMIT = 64 * 1024 * 1024  # read whole PDFs up to this size for /Title

StlVariant = Literal["binary", "ascii"]


def stl_variant(path: Path, size: int, head: bytes) -> StlVariant | None:
    """The STL variant: "binary" when the size is 84 + 50 × the triangle count the header
    gives, "ascii" for text from ``solid`` to ``endsolid``, None when it is no STL."""
    if size >= STL_HEADER + 4:
        count = int.from_bytes(head[STL_HEADER : STL_HEADER + 4], "little")
        if STL_HEADER + 4 + STL_TRIANGLE * count == size:
            return "binary"
    if not head.lstrip().startswith(b"solid"):
        return None
    with path.open("rb") as stream:
        stream.seek(max(0, size - STL_TAIL))
        tail = stream.read()
    if b"endsolid" in tail and b"facet" in head and _is_text(head) and _is_text(tail):
        return "ascii"
    return None


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start > len(data) - 4  # a character cut at the end of the sample
    return True


@dataclass
class CdaFacts:
    """What a CDA says about itself: its root element, ClinicalDocument/id and title."""

    root: str = ""
    id_root: str = ""
    id_extension: str = ""
    title: str = ""
    _depth: int = 0
    _in_title: bool = False
    _title_parts: list[str] = field(default_factory=list)

    @property
    def instance_identifier(self) -> str:
        """HL7 Instance Identifier (0040,E001): root^extension (PS3.3 C.12.1.1.7)."""
        if not self.id_root:
            raise ConversionFailed("the CDA has no ClinicalDocument/id root")
        return f"{self.id_root}^{self.id_extension}" if self.id_extension else self.id_root


class _Refused(Exception):
    """A document type declaration or entity: never expanded."""


def _parse_xml(path: Path) -> CdaFacts:
    facts = CdaFacts()
    parser = expat.ParserCreate(namespace_separator=" ")

    def refuse(*_args: object) -> None:
        raise _Refused

    def refuse_external(*_args: object) -> int:
        raise _Refused

    def start(name: str, attributes: dict[str, str]) -> None:
        facts._depth += 1
        if facts._depth == 1:
            facts.root = name
        elif facts._depth == 2 and name == f"{HL7_V3} id" and not facts.id_root:
            facts.id_root = attributes.get("root", "")
            facts.id_extension = attributes.get("extension", "")
        elif facts._depth == 2 and name == f"{HL7_V3} title" and not facts.title:
            facts._in_title = True

    def end(_name: str) -> None:
        if facts._in_title and facts._depth == 2:
            facts._in_title = False
            facts.title = " ".join("".join(facts._title_parts).split())
        facts._depth -= 1

    def text(data: str) -> None:
        if facts._in_title:
            facts._title_parts.append(data)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse_external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        with path.open("rb") as stream:
            parser.ParseFile(stream)
    except _Refused as error:
        raise ConversionFailed(
            f"{path.name} declares a document type or entities; they are not accepted"
        ) from error
    except expat.ExpatError as error:
        raise ConversionFailed(f"{path.name} is not well-formed XML: {error}") from error
    return facts


def _starts_like_xml(head: bytes) -> bool:
    for bom in (b"\xef\xbb\xbf",):
        head = head.removeprefix(bom)
    return head.lstrip().startswith(b"<")


def looks_like_cda(path: Path, head: bytes) -> bool:
    """True for an HL7 CDA; ConversionFailed for XML that is not one (or not well-formed);
    False when the file does not start like XML at all."""
    if not _starts_like_xml(head):
        return False
    facts = _parse_xml(path)
    if facts.root != CDA_ROOT:
        namespace, _, local = facts.root.rpartition(" ")
        shown = f"{{{namespace}}}{local}" if namespace else local
        raise ConversionFailed(
            f"{path.name} is XML whose root is {shown}, not an HL7 CDA {{{HL7_V3}}}ClinicalDocument"
        )
    return True


def cda_facts(path: Path) -> CdaFacts:
    """The CDA's id and title (the caller knows it is a CDA)."""
    return _parse_xml(path)


OBJ_STATEMENTS = frozenset(
    {
        *("v", "vt", "vn", "vp", "f", "l", "p", "g", "s", "o", "mg", "mtllib", "usemtl"),
        *("cstype", "deg", "bmat", "step", "curv", "curv2", "surf", "parm", "trim", "hole"),
        *("scrv", "sp", "end", "con", "bevel", "c_interp", "d_interp", "lod"),
        *("shadow_obj", "trace_obj", "ctech", "stech"),
    }
)
MTL_STATEMENTS = frozenset(
    {
        *("newmtl", "Ka", "Kd", "Ks", "Ke", "Ns", "Ni", "d", "Tr", "Tf", "illum", "sharpness"),
        *("bump", "disp", "decal", "refl", "Pr", "Pm", "Ps", "Pc", "Pcr", "aniso", "anisor"),
        "norm",
    }
)


def _statements(path: Path) -> list[str] | None:
    """The first words of the file's statements (comments and blank lines skipped), or None
    when the file is not text."""
    words: list[str] = []
    with path.open("rb") as stream:
        for raw in stream:
            if b"\x00" in raw:
                return None
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                return None
            if line and not line.startswith("#"):
                words.append(line.split(maxsplit=1)[0])
            if len(words) >= TEXT_STATEMENTS:
                break
    return words


def _mostly_known(words: list[str], known: frozenset[str]) -> bool:
    unknown = sum(1 for w in words if w not in known and not w.startswith("map_"))
    return unknown <= UNKNOWN_SHARE * len(words)


def looks_like_obj(path: Path) -> bool:
    """Wavefront OBJ: vertices (v) and faces, lines or points, among OBJ statements."""
    words = _statements(path)
    if not words or "v" not in words or not {"f", "l", "p"} & set(words):
        return False
    return _mostly_known(words, OBJ_STATEMENTS)


def looks_like_mtl(path: Path) -> bool:
    """Wavefront MTL: starts with newmtl, made of material statements."""
    words = _statements(path)
    if not words or words[0] != "newmtl":
        return False
    return _mostly_known(words, MTL_STATEMENTS)


INFO_REFERENCE = re.compile(rb"/Info\s+(\d+)\s+(\d+)\s+R")
TITLE_KEY = re.compile(rb"/Title\s*")


def _pdf_string(data: bytes, start: int) -> bytes | None:
    """The PDF string object at ``start`` (literal ``(…)`` or hex ``<…>``), decoded bytes."""
    if data[start : start + 1] == b"<":
        end = data.find(b">", start)
        if end < 0:
            return None
        digits = re.sub(rb"[^0-9A-Fa-f]", b"", data[start + 1 : end])
        if len(digits) % 2:
            digits += b"0"
        return bytes.fromhex(digits.decode())
    if data[start : start + 1] != b"(":
        return None
    escapes = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}
    out, depth, i = bytearray(), 1, start + 1
    while i < len(data):
        byte = data[i]
        if byte == 0x5C:  # backslash
            i += 1
            nxt = data[i] if i < len(data) else 0
            if 0x30 <= nxt <= 0x37:
                octal = re.match(rb"[0-7]{1,3}", data[i : i + 3])
                assert octal is not None
                out.append(int(octal.group(), 8) & 0xFF)
                i += len(octal.group())
                continue
            out += escapes.get(nxt, bytes([nxt]) if nxt not in (0x0A, 0x0D) else b"")
        elif byte == 0x28:
            depth += 1
            out.append(byte)
        elif byte == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out)
            out.append(byte)
        else:
            out.append(byte)
        i += 1
    return None


def _text_of(raw: bytes) -> str:
    if raw.startswith(b"\xfe\xff"):
        text = raw[2:].decode("utf-16-be", errors="replace")
    elif raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8", errors="replace")
    else:
        text = raw.decode("latin-1")
    return " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())


def pdf_title(path: Path) -> str:
    """The /Title of the PDF's document information dictionary when it is stored plainly
    (not in a compressed object stream); "" otherwise."""
    if path.stat().st_size > PDF_READ_LIMIT:
        return ""
    data = path.read_bytes()
    references = INFO_REFERENCE.findall(data)
    if not references:
        return ""
    number, generation = references[-1]
    found = re.search(rb"(?<![0-9])" + number + rb"\s+" + generation + rb"\s+obj\b", data)
    if found is None:
        return ""
    end = data.find(b"endobj", found.end())
    dictionary = data[found.end() : end if end > 0 else None]
    key = TITLE_KEY.search(dictionary)
    if key is None:
        return ""
    raw = _pdf_string(dictionary, key.end())
    return _text_of(raw) if raw else ""
