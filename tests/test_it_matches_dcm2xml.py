"""Oracle: the console's Native DICOM XML (PS3.19) carries the same elements, VRs, values,
person name components, items and private creators as DCMTK's dcm2xml --native-format; and
reading it back gives the same data set."""

import math
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from archive.inspect.dicomjson import to_dicom_json
from archive.inspect.loading import UN_FALLBACK_WARNING, load
from archive.inspect.nativexml import from_native_xml, to_native_xml
from tests.archive_helpers import CORPUS
from tests.peers import require_tool
from tests.test_it_matches_dcm2json import dcmdump_top_level

FILES = sorted(p.name for p in CORPUS.glob("*.dcm"))
DCM2XML_REFUSES = {"emri_small_jpeg_2k_lossless_too_short.dcm"}
NUMERIC = {"DS", "IS", "FL", "FD", "US", "SS", "UL", "SL", "UV", "SV"}


def dcm2xml(path: Path) -> ET.Element | None:
    done = subprocess.run([require_tool("dcm2xml"), "--native-format", str(path)],
                          capture_output=True)
    return ET.fromstring(done.stdout) if done.returncode == 0 and done.stdout else None


def model(node: ET.Element) -> dict[str, object]:
    """The comparable content of a dataset node: tag → (vr, creator, values or items)."""
    out: dict[str, object] = {}
    for attr in node.findall("DicomAttribute"):
        tag, vr = attr.get("tag", ""), attr.get("vr", "")
        if tag.endswith("0000"):
            continue
        if attr.find("Item") is not None or vr == "SQ":
            content: object = [model(item) for item in attr.findall("Item")]
        elif attr.find("PersonName") is not None:
            content = [
                {g.tag: [(c.tag, c.text or "") for c in g] for g in pn}
                for pn in attr.findall("PersonName")
            ]
        elif attr.find("InlineBinary") is not None or attr.find("BulkData") is not None:
            content = "binary"
        else:
            texts = [v.text or "" for v in attr.findall("Value")]
            content = [float(t) if vr in NUMERIC and t else t for t in texts]
        creator = attr.get("privateCreator")
        # A private element and a Private Creator can share the tag text (block number 00).
        out[f"{tag}/{creator}" if creator else tag] = (vr, creator, content)
    return out


def close(ours: object, theirs: object) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float):
        return math.isclose(ours, theirs, rel_tol=1e-12)
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(close(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list | tuple) and isinstance(theirs, list | tuple):
        return len(ours) == len(theirs) and all(close(a, b) for a, b in zip(ours, theirs,
                                                                             strict=True))
    return ours == theirs


@pytest.mark.parametrize("name", FILES)
def test_xml_matches_dcm2xml(name: str) -> None:
    path = CORPUS / name
    theirs = dcm2xml(path)
    loaded = load(path)
    ours = ET.fromstring(to_native_xml(loaded.dataset, little_endian=loaded.little_endian))
    if theirs is None:
        # DCMTK refuses the file (truncated pixel data): dcmdump's listing is the oracle.
        assert name in DCM2XML_REFUSES
        tags = {a.get("tag") for a in ours.findall("DicomAttribute")}
        assert set(dcmdump_top_level(path)) <= tags
        return
    ours_model, theirs_model = model(ours), model(theirs)
    ours_model.pop("00080005", None)  # ours is UTF-8 (ISO_IR 192); dcm2xml keeps the source's
    theirs_model.pop("00080005", None)
    fallback = UN_FALLBACK_WARNING in loaded.warnings
    differing = [tag for tag in sorted(set(ours_model) | set(theirs_model))
                 if not close(ours_model.get(tag), theirs_model.get(tag))
                 and not (fallback and _shown_as_un(theirs_model.get(tag)))]
    assert differing == [], [(t, ours_model.get(t), theirs_model.get(t)) for t in differing[:3]]


def _shown_as_un(entry: object) -> bool:
    # Where the loader had to fall back to dictionary VRs (and says so), DCMTK's UN stands.
    return isinstance(entry, tuple) and entry[0] == "UN"


@pytest.mark.parametrize("name", FILES)
def test_xml_reads_back_to_the_same_data_set(name: str) -> None:
    loaded = load(CORPUS / name)
    document = to_native_xml(loaded.dataset, little_endian=loaded.little_endian)
    again = from_native_xml(document)
    assert to_dicom_json(again) == to_dicom_json(loaded.dataset,
                                                 little_endian=loaded.little_endian)
