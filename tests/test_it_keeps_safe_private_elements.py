"""Private elements under PS3.15 E.3.10 (Retain Safe Private Option): an element listed as
safe — by its private creator, its group and the low byte of its element number (PS3.5 7.8.1:
the creator reserves a block, so the slot the block sits in does not matter) — stays with its
value and its creator; everything else private goes: other elements of the same block, other
blocks of the same group, the same creator in another group, another creator at the listed
element number. Without the option every private element goes (Table E.1-1, "(gggg,eeee)
where gggg is odd": X), even those listed.

Oracles: the private blocks planted here, PS3.5's block arithmetic, and DCMTK's dcmdump."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from archive.deid.config import DeidConfig, SafePrivate
from archive.deid.engine import deidentify_dataset, deidentify_file
from archive.deid.profile import ProfileOption
from tests.peers import require_tool

BASE = Path("/work/shared/dicom-corpus/SC_rgb.dcm")
KEY = b"safe-private-test-key-0123456789"
SAFE_CREATOR, OTHER_CREATOR = "ACME SAFE 1", "OTHER VENDOR"
SAFE = SafePrivate(SAFE_CREATOR, 0x0009, 0x01)
SAFE_VALUE = "kVp calibration table 3"
RETAIN = ProfileOption.RETAIN_SAFE_PRIVATE


def block(ds: Dataset, group: int, slot: int, creator: str, values: dict[int, str]) -> None:
    """A private block: its creator at (gggg,00ss), its elements at (gggg,ssee) (PS3.5 7.8.1)."""
    ds.add_new((group << 16) | slot, "LO", creator)
    for low, value in values.items():
        ds.add_new((group << 16) | (slot << 8) | low, "LO", value)


def planted(safe_slot: int = 0x10) -> Dataset:
    """The safe creator's block at ``safe_slot`` of group 0009 (its element 01 listed as safe,
    02 not), another creator's block in the same group with an element 01 too, the safe
    creator again in group 0011, and the safe block once more inside a sequence item."""
    ds = dcmread(BASE)
    ds.PatientName = "PRIVATE^PATIENT"
    block(ds, 0x0009, safe_slot, SAFE_CREATOR, {0x01: SAFE_VALUE, 0x02: "operator PRIVATE"})
    block(ds, 0x0009, 0x10 if safe_slot != 0x10 else 0x11, OTHER_CREATOR,
          {0x01: "other vendor's value", 0x03: "more"})
    block(ds, 0x0011, 0x10, SAFE_CREATOR, {0x01: "the same creator in another group"})
    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = (
        "T-D4000", "SRT", "Abdomen")
    block(region, 0x0009, 0x10, SAFE_CREATOR, {0x01: SAFE_VALUE, 0x02: "not listed"})
    ds.AnatomicRegionSequence = Sequence([region])
    return ds


def config(*options: ProfileOption, safe: tuple[SafePrivate, ...] = (SAFE,)) -> DeidConfig:
    return DeidConfig(options=frozenset(options), project_key=KEY, safe_private=safe)


def private_elements(ds: Dataset, path: str = "") -> Iterator[tuple[str, DataElement]]:
    for element in ds:
        here = f"{path}({element.tag.group:04X},{element.tag.element:04X})"
        if element.tag.is_private:
            yield here, element
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                yield from private_elements(item, f"{here}[{index}]>")


def private_values(ds: Dataset) -> dict[str, str]:
    return {path: str(element.value) for path, element in private_elements(ds)}


@pytest.mark.parametrize("slot", [0x10, 0x42], ids=["slot-10", "slot-42"])
def test_the_listed_element_and_its_creator_stay_and_nothing_else(slot: int) -> None:
    out = deidentify_dataset(planted(slot), config(RETAIN)).dataset
    creator, element = f"(0009,00{slot:02X})", f"(0009,{slot:02X}01)"
    assert private_values(out) == {
        creator: SAFE_CREATOR,
        element: SAFE_VALUE,
        "(0008,2218)[0]>(0009,0010)": SAFE_CREATOR,
        "(0008,2218)[0]>(0009,1001)": SAFE_VALUE,
    }


def test_without_the_option_every_private_element_goes() -> None:
    ds = planted()
    assert len(list(private_elements(ds))) == 11
    out = deidentify_dataset(ds, config()).dataset
    assert private_values(out) == {}
    assert out.AnatomicRegionSequence[0].CodeValue == "T-D4000"  # the item itself stays


def test_the_option_with_no_list_keeps_no_private_element() -> None:
    out = deidentify_dataset(planted(), config(RETAIN, safe=())).dataset
    assert private_values(out) == {}


def test_the_listed_number_under_another_creator_goes() -> None:
    ds = dcmread(BASE)
    block(ds, 0x0009, 0x10, OTHER_CREATOR, {0x01: "looks like the safe one"})
    out = deidentify_dataset(ds, config(RETAIN)).dataset
    assert private_values(out) == {}


def test_a_creator_is_matched_without_its_padding() -> None:
    """PS3.5 6.2: an LO value's trailing spaces are padding, not part of the creator."""
    ds = dcmread(BASE)
    block(ds, 0x0009, 0x10, SAFE_CREATOR + " ", {0x01: SAFE_VALUE})
    out = deidentify_dataset(ds, config(RETAIN)).dataset
    assert private_values(out).get("(0009,1001)") == SAFE_VALUE


# DCMTK reads the same ---------------------------------------------------------------------------
def dcmdump_private(path: Path) -> dict[str, str]:
    """Every private element (odd group) dcmdump prints, at any depth: tag -> value."""
    run = subprocess.run([require_tool("dcmdump"), "-q", "+L", str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    found = {}
    for line in run.stdout.splitlines():
        match = re.match(r"^\s*\(([0-9a-f]{4}),([0-9a-f]{4})\) \w\w (.*?)\s+#", line)
        if match and int(match[1], 16) % 2:
            text = match[3]
            found[f"({match[1]},{match[2]})".upper()] = (
                text[1:-1] if text.startswith("[") else text)
    return found


@pytest.mark.dcmtk
def test_dcmdump_reads_only_the_safe_element(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    planted().save_as(source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    kept_path, _ = deidentify_file(source, out_dir, config(RETAIN))
    assert dcmdump_private(kept_path) == {"(0009,0010)": SAFE_CREATOR,
                                          "(0009,1001)": SAFE_VALUE}
    gone_dir = tmp_path / "gone"
    gone_dir.mkdir()
    gone_path, _ = deidentify_file(source, gone_dir, config())
    assert dcmdump_private(gone_path) == {}


def _declaration(group: int, creator: str, status: str, elements: list[int]) -> Dataset:
    item = Dataset()
    item.PrivateGroupReference = group
    item.PrivateCreatorReference = creator
    item.BlockIdentifyingInformationStatus = status
    if elements:
        item.NonidentifyingPrivateElements = elements
    return item


def test_what_the_file_declares_safe_stays_under_the_option() -> None:
    """PS3.3 C.12.1.1.7: a block the file's Private Data Element Characteristics Sequence
    calls SAFE stays whole; of a MIXED block, only the elements it lists as non-identifying;
    an UNSAFE block goes. Without the option the declarations change nothing."""
    ds = planted()
    block(ds, 0x0013, 0x10, "DECLARED SAFE", {0x01: "a", 0x02: "b"})
    block(ds, 0x0015, 0x10, "DECLARED MIXED", {0x01: "kept", 0x02: "identifying"})
    block(ds, 0x0017, 0x10, "DECLARED UNSAFE", {0x01: "goes"})
    ds.PrivateDataElementCharacteristicsSequence = Sequence([
        _declaration(0x0013, "DECLARED SAFE", "SAFE", []),
        _declaration(0x0015, "DECLARED MIXED", "MIXED", [0x01]),
        _declaration(0x0017, "DECLARED UNSAFE", "UNSAFE", [])])
    kept = deidentify_dataset(ds, DeidConfig(options=frozenset({RETAIN}),
                                             project_key=KEY)).dataset
    assert {str(kept[t].value) for t in (0x00131001, 0x00131002)} == {"a", "b"}
    assert kept[0x00130010].value == "DECLARED SAFE"
    assert str(kept[0x00151001].value) == "kept" and 0x00151002 not in kept
    assert 0x00171001 not in kept and 0x00170010 not in kept
    plain = deidentify_dataset(ds, DeidConfig(project_key=KEY)).dataset
    assert not [e for e in plain if e.tag.is_private]
