"""Presentation contexts for a store, like dcmsend: the instances' own syntaxes plus an
uncompressed fallback per SOP class, never more than 128 per association."""

from pathlib import Path

from netjobs.operations.store.planning import contexts_for_class, plan, split
from netjobs.operations.store.sources import SendItem

CT, MR = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT, IMPLICIT, BIG = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"
J2K, RLE = "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5"


def item(sop_class: str, syntax: str, n: int) -> SendItem:
    return SendItem(str(n), Path(f"/x/{n}"), sop_class, f"1.2.3.{n}", syntax, 10)


def test_contexts_per_class() -> None:
    assert contexts_for_class(CT, {J2K, RLE, EXPLICIT}) == [
        (CT, [J2K]), (CT, [RLE]), (CT, [EXPLICIT, IMPLICIT])]
    assert contexts_for_class(MR, {BIG}) == [(MR, [BIG, EXPLICIT, IMPLICIT])]


def test_more_than_128_contexts_split_into_associations() -> None:
    items = [item(f"1.2.840.10008.5.1.4.1.1.{n}", J2K, n) for n in range(100)]
    planned = plan(items)
    assert [len(p.contexts) for p in planned] == [128, 72]  # two contexts per class
    assert sum(len(p.items) for p in planned) == 100
    for association in planned:
        classes = {cx[0] for cx in association.contexts}
        assert {i.sop_class_uid for i in association.items} == classes


def test_unsendable_items_are_left_out_and_split_keeps_order() -> None:
    broken = SendItem("notes.txt", None, problem="not DICOM")
    assert plan([broken, item(CT, EXPLICIT, 1)])[0].items == [item(CT, EXPLICIT, 1)]
    groups = split([item(CT, EXPLICIT, n) for n in range(7)], 3)
    assert [[i.name for i in g] for g in groups] == [["0", "1", "2"], ["3", "4"], ["5", "6"]]
    assert split([], 4) == []
