"""Every storage SOP class pydicom knows has a directory record type (PS3.3 F.4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID

from archive.media.dicomdir.sopclasses import (
    UnknownSopClass,
    is_single_level,
    is_storage_class,
    record_type_for,
    record_type_for_uid,
)
from tests.record_key_helpers import dcmmkdir, made_instances, save

SERVICES = {"1.2.840.10008.1.3.10", "1.2.840.10008.1.20.1", "1.2.840.10008.1.20.2"}
DICOS_REPORT = "1.2.840.10008.5.1.4.1.1.501.3"  # security screening, no PS3.3 F.4 entry


def _storage_classes() -> list[UID]:
    from pydicom import uid as uids  # the public UID module lists each SOP class by keyword

    found = {UID(str(v)) for v in vars(uids).values() if isinstance(v, str) and v[:1] == "1"}
    return sorted(u for u in found if u.type == "SOP Class" and "Storage" in u.name)


def test_every_storage_class_has_a_record_type() -> None:
    classes = _storage_classes()
    assert len(classes) > 150
    for uid in classes:
        if str(uid) in SERVICES | {DICOS_REPORT}:
            with pytest.raises(UnknownSopClass):
                record_type_for_uid(uid)
            continue
        kind = record_type_for_uid(uid)
        if "Image Storage" in uid.name:
            assert kind == "IMAGE", uid.name
        if " SR " in f" {uid.name} ":
            assert kind == "SR DOCUMENT", uid.name
        if "Waveform" in uid.name and " SR " not in f" {uid.name} ":
            assert kind == "WAVEFORM", uid.name
        if "Presentation State" in uid.name:
            assert kind == "PRESENTATION", uid.name
        if uid.name.startswith("Encapsulated"):
            assert kind == "ENCAP DOC", uid.name


def test_unknown_and_private_classes_are_refused_like_dcmmkdir(tmp_path: Path) -> None:
    ds = made_instances()["RAW"]
    ds.SOPClassUID = "1.2.826.0.1.3680043.8.498.999.1"
    save(ds, tmp_path / "PRIV0001")
    assert "invalid SOP class" in dcmmkdir(tmp_path, ["PRIV0001"], "-Pgp").log
    with pytest.raises(UnknownSopClass, match=r"1\.2\.826\.0\.1\.3680043\.8\.498\.999\.1"):
        record_type_for(ds)
    assert not is_storage_class("1.2.826.0.1.3680043.8.498.999.1")


def test_single_level_types() -> None:
    hanging = Dataset()
    hanging.SOPClassUID = "1.2.840.10008.5.1.4.38.1"
    assert record_type_for(hanging) == "HANGING PROTOCOL"
    assert is_single_level("PALETTE") and not is_single_level("IMAGE")
