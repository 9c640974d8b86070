"""Missing Type 1 record keys: strict refusal naming them all, or dcmmkdir +I's inventions."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from archive.media.dicomdir.invent import Inventor
from archive.media.dicomdir.records import MissingRecordKeys, instance_records, read_header
from tests.record_key_helpers import PYDICOM_FILES, as_json, copy_as, dcmmkdir, source_files

LENIENT = ("-Pgp", "-Nxc", "-Nec", "-Nrc", "+Nrs")
TIME_TAG, DATE_TAG = "00080030", "00080020"
INVENTED = ["PatientID", "StudyDate", "StudyTime", "StudyID", "SeriesNumber", "InstanceNumber"]


def _near_now(value: str) -> bool:
    now = datetime.now()
    for day in (now, now - timedelta(minutes=5)):
        stamp = datetime.strptime(day.strftime("%Y%m%d") + value[:6], "%Y%m%d%H%M%S")
        if abs(stamp - now) < timedelta(minutes=5):
            return True
    return False


def _same(tag: str, theirs: object, ours: object) -> bool:
    if theirs == ours:
        return True
    # StudyTime from the clock: the two runs are a moment apart.
    if tag == TIME_TAG and isinstance(theirs, dict) and isinstance(ours, dict):
        return all(_near_now(str(v["Value"][0])) for v in (theirs, ours) if "Value" in v)
    return False


def _chain(records: object) -> list[tuple[str, Dataset]]:
    return [("PATIENT", records.patient), ("STUDY", records.study),  # type: ignore[attr-defined]
            ("SERIES", records.series),  # type: ignore[attr-defined]
            (records.leaf_type, records.leaf)]  # type: ignore[attr-defined]


def _differences(theirs: list[tuple[str, Dataset]], ours: list[tuple[str, Dataset]]) -> list[str]:
    if [k for k, _ in theirs] != [k for k, _ in ours]:
        return [f"types {[k for k, _ in theirs]} != {[k for k, _ in ours]}"]
    problems = []
    for (kind, their_keys), (_, our_keys) in zip(theirs, ours, strict=True):
        a, b = as_json(their_keys), as_json(our_keys)
        problems += [f"{kind} {tag}: dcmmkdir {a.get(tag)} ours {b.get(tag)}"
                     for tag in sorted(set(a) | set(b)) if not _same(tag, a.get(tag), b.get(tag))]
    return problems


def test_each_file_gets_the_values_dcmmkdir_invents(tmp_path: Path) -> None:
    differences, beyond = [], []
    for index, source in enumerate(source_files(), start=1):
        path = copy_as(source, tmp_path, index)
        oracle = dcmmkdir(tmp_path, [path.name], "+I", *LENIENT)
        try:
            ours = instance_records(read_header(path), Inventor())
        except (MissingRecordKeys, InvalidDicomError, ValueError, OSError) as error:
            assert path.name not in oracle.leaves, f"{source.name}: {error}"
            continue
        if path.name in oracle.leaves:
            differences += [f"{source.name}: {d}"
                            for d in _differences(oracle.leaves[path.name], _chain(ours))]
        elif oracle.missing():
            # We invent leaf keys dcmmkdir does not; each such key is listed as a fix.
            fixed = {fix.split()[0] for fix in ours.fixes}
            assert set(oracle.missing()) <= fixed, source.name
            beyond.append(f"{source.name}: {oracle.missing()}")
    print("\nours invents, dcmmkdir +I refuses:\n" + "\n".join(beyond))
    assert differences == []


def _stripped(folder: Path, name: str, study: str, series: str, strip: list[str],
              source: str = "CT_small.dcm") -> Path:
    ds = pydicom.dcmread(PYDICOM_FILES / source)
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.77.{study}"
    ds.SeriesInstanceUID = f"{ds.StudyInstanceUID}.{series}"
    ds.SOPInstanceUID = f"{ds.SeriesInstanceUID}.{int.from_bytes(name.encode())}"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword in strip:
        if keyword == "PatientName":  # Type 2: dcmmkdir refuses a file without it
            ds.PatientName = ""
        elif keyword in ds:
            del ds[keyword]
    ds.save_as(folder / name)
    return folder / name


def _batch(folder: Path) -> list[Path]:
    every = ["PatientID", "StudyID", "SeriesNumber", "InstanceNumber"]
    return [
        _stripped(folder, "IMG00001", "1", "1", every),
        _stripped(folder, "IMG00002", "1", "1", every),
        _stripped(folder, "IMG00003", "1", "2", every),
        _stripped(folder, "IMG00004", "2", "1", ["StudyDate", "SeriesDate", "StudyTime"]),
        _stripped(folder, "IMG00005", "3", "1", ["StudyID", "PatientName", "PatientID"]),
        _stripped(folder, "IMG00006", "4", "1", ["StudyID", "PatientName", "PatientID"]),
        _stripped(folder, "IMG00007", "5", "1", ["PatientID", "StudyDate"], "test-SR.dcm"),
        _stripped(folder, "IMG00008", "6", "1", ["PatientID"], "waveform_ecg.dcm"),
        _stripped(folder, "IMG00009", "7", "1", ["PatientID"], "waveform_ecg.dcm"),
        _stripped(folder, "IMG00010", "8", "1", ["PatientID", "InstanceNumber"], "rtplan.dcm"),
    ]


def test_a_batch_gets_the_same_values_as_one_dcmmkdir_run(tmp_path: Path) -> None:
    paths = _batch(tmp_path)
    oracle = dcmmkdir(tmp_path, [p.name for p in paths], "+I", *LENIENT)
    inventor = Inventor()
    differences = []
    for path in paths:
        ours = instance_records(read_header(path), inventor)
        differences += [f"{path.name}: {d}"
                        for d in _differences(oracle.leaves[path.name], _chain(ours))]
    assert differences == [], oracle.log


def test_one_study_one_series_one_patient_name_share_invented_values(tmp_path: Path) -> None:
    inventor = Inventor()
    got = [instance_records(read_header(p), inventor) for p in _batch(tmp_path)]
    assert got[0].study.StudyID == got[1].study.StudyID == got[2].study.StudyID
    assert got[0].series.SeriesNumber == got[1].series.SeriesNumber
    assert got[2].series.SeriesNumber != got[0].series.SeriesNumber
    assert got[4].patient.PatientID != got[5].patient.PatientID  # both unnamed, no ID
    assert got[7].patient.PatientID == got[8].patient.PatientID  # same name, no ID
    assert got[4].study.StudyID != got[5].study.StudyID
    assert any(fix.startswith("StudyDate missing: ") for fix in got[3].fixes)


def test_strict_names_every_missing_key_like_dcmmkdir(tmp_path: Path) -> None:
    for count, keyword in enumerate([*INVENTED, "Modality", "SeriesInstanceUID"], start=1):
        path = _stripped(tmp_path, f"ONE{count:05d}", str(count), "1", [keyword])
        with pytest.raises(MissingRecordKeys) as raised:
            instance_records(read_header(path), None)
        assert raised.value.missing == [keyword]
        assert dcmmkdir(tmp_path, [path.name], *LENIENT).missing() == [keyword]
    path = _stripped(tmp_path, "ALL00001", "99", "1", [*INVENTED, "SeriesDate",
                                                       "AcquisitionDate", "ContentDate"])
    with pytest.raises(MissingRecordKeys) as raised:
        instance_records(read_header(path), None)
    assert set(raised.value.missing) == set(INVENTED)
    assert set(dcmmkdir(tmp_path, [path.name], *LENIENT).missing()) == set(INVENTED)


def test_keys_dcmmkdir_never_invents_still_fail_with_an_inventor(tmp_path: Path) -> None:
    path = _stripped(tmp_path, "NOMOD001", "1", "1", ["Modality", "StudyID"])
    with pytest.raises(MissingRecordKeys) as raised:
        instance_records(read_header(path), Inventor())
    assert raised.value.missing == ["Modality"]
    assert dcmmkdir(tmp_path, [path.name], "+I", *LENIENT).missing() == ["Modality"]


def test_counters_continue_after_an_existing_directory(tmp_path: Path) -> None:
    model = pytest.importorskip("archive.media.dicomdir.model")
    first = Inventor()
    built = [instance_records(read_header(p), first) for p in _batch(tmp_path)]
    roots = []
    for records in built:
        series = model.Record("SERIES", records.series,
                              children=[model.Record(records.leaf_type, records.leaf)])
        study = model.Record("STUDY", records.study, children=[series])
        roots.append(model.Record("PATIENT", records.patient, children=[study]))
    later = Inventor(model.Directory(roots=roots))
    again = instance_records(read_header(_stripped(tmp_path, "NEW00001", "1", "1",
                                                   ["StudyID", "SeriesNumber"])), later)
    assert again.study.StudyID == built[0].study.StudyID  # same study keeps its ID
    fresh = instance_records(read_header(_stripped(tmp_path, "NEW00002", "50", "1",
                                                   ["PatientID", "StudyID"])), later)
    used = {r.study.StudyID for r in built}
    assert fresh.study.StudyID not in used and fresh.study.StudyID.startswith("DCMTKSTUDY")
    numbers = {int(r.leaf.InstanceNumber) for r in built}
    stripped = _stripped(tmp_path, "NEW00003", "51", "1", ["InstanceNumber"])
    assert int(instance_records(read_header(stripped), later).leaf.InstanceNumber) > max(numbers)


def test_we_invent_an_sr_instance_number_where_dcmmkdir_refuses(tmp_path: Path) -> None:
    path = _stripped(tmp_path, "SRNUM001", "1", "1", ["InstanceNumber"], "test-SR.dcm")
    ds = read_header(path)
    ds.PatientID, ds.StudyID, ds.StudyDate, ds.StudyTime = "P1", "S1", "20200101", "101010"
    assert dcmmkdir(tmp_path, [path.name], "+I", *LENIENT).missing() == ["InstanceNumber"]
    ours = instance_records(ds, Inventor())
    assert ours.leaf_type == "SR DOCUMENT" and ours.leaf.InstanceNumber == "1"
    assert ours.fixes == ("InstanceNumber missing: 1 invented (SR DOCUMENT record)",)
