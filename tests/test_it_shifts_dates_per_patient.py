"""Dates under PS3.15 E.3.6 (Retain Longitudinal Temporal Information): with Modified Dates
every date of one patient moves back by the same whole number of days (1 to 3650), so two
studies 37 days apart stay 37 days apart and a date-time keeps its time and UTC offset; two
patients move differently; a date that cannot be read refuses the file, naming the element.
With Full Dates the dates stay — but never the birth date, not even as an SR DATE item. With
neither, no date of the input is left in any DA or DT. Longitudinal Temporal Information
Modified (0028,0303) says which of the three happened (PS3.3 C.7.6.1.1.1).

Oracles: the calendar (Python's datetime) on the values planted, and DCMTK's dcmdump."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from archive.deid.config import DeidConfig, DeidRefused
from archive.deid.engine import deidentify_dataset, deidentify_file
from archive.deid.profile import ProfileOption
from tests.peers import require_tool

BASE = Path("/work/shared/dicom-corpus/SC_rgb.dcm")
KEY = b"dates-test-project-key-012345678"
PATIENT_ID = "PAT-DATES-1"
BIRTH_DATE = "19700512"
FIRST_STUDY = dt.date(2020, 1, 10)
GAP = dt.timedelta(days=37)
DT_REST = "083015.25+0100"  # time with fraction, and the UTC offset
MODIFIED = ProfileOption.RETAIN_MODIFIED_DATES
FULL = ProfileOption.RETAIN_FULL_DATES


def ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def parse(text: str) -> dt.date:
    return dt.datetime.strptime(text[:8], "%Y%m%d").date()


def sr_item(value_type: str, keyword: str, value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = value_type
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = (
        "111526", "DCM", meaning)
    item.ConceptNameCodeSequence = Sequence([concept])
    setattr(item, keyword, value)
    return item


def study(day: dt.date, patient_id: str = PATIENT_ID, number: int = 1) -> Dataset:
    """One instance of a study on ``day``: dates and a date-time of the study, its series
    and content, a creation date the day before, and SR-like DATE/DATETIME content items
    (one the birth date), and dates no row of the table lists, nested."""
    ds = dcmread(BASE)
    ds.PatientID = patient_id
    ds.PatientName = f"DATES^{patient_id}"
    ds.PatientBirthDate = BIRTH_DATE
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.9.7784.{number}"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ymd(day)
    ds.InstanceCreationDate = ymd(day - dt.timedelta(days=1))
    ds.AcquisitionDateTime = ymd(day) + DT_REST
    ds.ContentSequence = Sequence([
        sr_item("DATE", "Date", ymd(day), "Date of exam"),
        sr_item("DATE", "Date", BIRTH_DATE, "Birth date"),
        sr_item("DATETIME", "DateTime", ymd(day) + DT_REST, "Exam time"),
    ])
    region = Dataset()  # dates the table does not list, in an item of a sequence it does not
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = (
        "T-D4000", "SRT", "Abdomen")
    region.ExpiryDate = ymd(day + dt.timedelta(days=400))
    region.ExpirationDateTime = ymd(day + dt.timedelta(days=500)) + DT_REST
    ds.AnatomicRegionSequence = Sequence([region])
    return ds


def config(*options: ProfileOption) -> DeidConfig:
    return DeidConfig(options=frozenset(options), project_key=KEY)


def dates_in(ds: Dataset, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, VR, value) of every DA and DT value, at any depth."""
    for element in ds:
        here = f"{path}{element.keyword}"
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                yield from dates_in(item, f"{here}[{index}]>")
        elif element.VR in ("DA", "DT") and element.value:
            values = element.value if isinstance(element.value, list) else [element.value]
            for value in values:
                if str(value).strip():
                    yield here, element.VR, str(value).strip()


def shift(before: Dataset, after: Dataset) -> dt.timedelta:
    return parse(str(after.StudyDate)) - parse(str(before.StudyDate))


def test_two_studies_of_a_patient_stay_37_days_apart() -> None:
    first, second = study(FIRST_STUDY), study(FIRST_STUDY + GAP, number=2)
    new_first = deidentify_dataset(first, config(MODIFIED)).dataset
    new_second = deidentify_dataset(second, config(MODIFIED)).dataset
    assert parse(new_second.StudyDate) - parse(new_first.StudyDate) == GAP
    assert new_first.StudyDate != first.StudyDate
    assert shift(first, new_first) == shift(second, new_second)


def test_every_date_of_the_patient_moves_by_the_same_days() -> None:
    ds = study(FIRST_STUDY)
    out = deidentify_dataset(ds, config(MODIFIED)).dataset
    days = shift(ds, out)
    assert -3650 <= days.days <= -1
    before = {path: value for path, _, value in dates_in(ds)
              if path not in ("PatientBirthDate", "ContentSequence[1]>Date")}
    after = {path: value for path, _, value in dates_in(out)}
    for path, value in before.items():
        assert parse(after[path]) - parse(value) == days, path
        assert after[path][8:] == value[8:], path  # a DT keeps its time and UTC offset
    assert out.AcquisitionDateTime == ymd(FIRST_STUDY + days) + DT_REST
    assert "AnatomicRegionSequence[0]>ExpirationDateTime" in after  # unlisted: shifted too
    assert BIRTH_DATE not in {value[:8] for value in after.values()}
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"


def test_patients_move_by_different_days_each_bounded() -> None:
    shifts = []
    for index in range(40):
        ds = study(FIRST_STUDY, patient_id=f"PAT-{index:03d}")
        days = shift(ds, deidentify_dataset(ds, config(MODIFIED)).dataset).days
        assert 1 <= -days <= 3650, days
        shifts.append(days)
    # 40 draws from 3650 values: a repeat or two is possible, a constant offset is not
    assert len(set(shifts)) >= 38


def test_the_same_patient_moves_the_same_way_in_another_delivery() -> None:
    once = deidentify_dataset(study(FIRST_STUDY), config(MODIFIED)).dataset
    again = deidentify_dataset(study(FIRST_STUDY), DeidConfig(
        options=frozenset({MODIFIED}), project_key=bytes(KEY))).dataset
    other_key = deidentify_dataset(study(FIRST_STUDY), DeidConfig(
        options=frozenset({MODIFIED}), project_key=KEY[::-1])).dataset
    assert once.StudyDate == again.StudyDate
    assert other_key.StudyDate != once.StudyDate  # a 1 in 3650 chance for any fixed keys


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
@pytest.mark.parametrize(("keyword", "value", "tag"), [
    ("StudyDate", "20201301", "(0008,0020)"),  # no month 13
    ("AcquisitionDateTime", "2020AB10101010", "(0008,002A)"),  # letters for the month
    ("AcquisitionDateTime", "20200110xx", "(0008,002A)"),  # letters for the hour
    ("AcquisitionDateTime", "2020011025", "(0008,002A)"),  # no hour 25
])
def test_an_unreadable_date_refuses_the_file_naming_the_element(keyword: str, value: str,
                                                                tag: str) -> None:
    ds = study(FIRST_STUDY)
    setattr(ds, keyword, value)
    with pytest.raises(DeidRefused) as refused:
        deidentify_dataset(ds, config(MODIFIED))
    assert tag in str(refused.value) or keyword in str(refused.value)


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
def test_an_unreadable_date_in_an_item_is_named_by_its_path() -> None:
    ds = study(FIRST_STUDY)
    ds.ContentSequence[0].Date = "20200230"  # no 30 February
    with pytest.raises(DeidRefused) as refused:
        deidentify_dataset(ds, config(MODIFIED))
    assert "(0040,A121)" in str(refused.value).upper()


def test_full_dates_keep_the_dates_but_never_the_birth_date() -> None:
    ds = study(FIRST_STUDY)
    out = deidentify_dataset(ds, config(FULL)).dataset
    for keyword in ("StudyDate", "SeriesDate", "ContentDate", "InstanceCreationDate",
                    "AcquisitionDateTime"):
        assert out[keyword].value == ds[keyword].value, keyword
    assert out.ContentSequence[0].Date == ymd(FIRST_STUDY)
    assert out.ContentSequence[2].DateTime == ymd(FIRST_STUDY) + DT_REST
    assert out.AnatomicRegionSequence[0].ExpiryDate == ds.AnatomicRegionSequence[0].ExpiryDate
    assert str(out.get("PatientBirthDate", "") or "") != BIRTH_DATE
    birth_item = out.ContentSequence[1].get("Date")  # a DATE item must keep a value (D)
    assert birth_item is not None and str(birth_item) not in ("", BIRTH_DATE)
    assert BIRTH_DATE not in {value[:8] for _, _, value in dates_in(out)}
    assert out.LongitudinalTemporalInformationModified == "UNMODIFIED"


@pytest.mark.parametrize("options", [(), (ProfileOption.RETAIN_DEVICE_IDENTITY,),
                                     (ProfileOption.CLEAN_STRUCTURED_CONTENT,)],
                         ids=["basic", "device", "structured"])
def test_without_a_dates_option_no_input_date_is_left(options: tuple[ProfileOption, ...]
                                                     ) -> None:
    ds = study(FIRST_STUDY)
    ds.DateOfLastCalibration = ymd(FIRST_STUDY - dt.timedelta(days=100))  # K with device
    ds.add_new(0x00091010, "LO", "private")  # something else in the file
    input_dates = {value[:8] for _, _, value in dates_in(ds)}
    out = deidentify_dataset(ds, config(*options)).dataset
    left = [(path, value) for path, _, value in dates_in(out) if value[:8] in input_dates]
    if ProfileOption.RETAIN_DEVICE_IDENTITY in options:  # kept by that option's K
        left = [(path, value) for path, value in left if path != "DateOfLastCalibration"]
    assert left == []
    assert out.LongitudinalTemporalInformationModified == "REMOVED"


# DCMTK reads the same ---------------------------------------------------------------------------
def dcmdump_value(path: Path, tag: str) -> str:
    run = subprocess.run([require_tool("dcmdump"), "-q", "-s", "+P", tag, str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    line = run.stdout.strip()
    return line.split("[", 1)[1].split("]", 1)[0] if "[" in line else ""


@pytest.mark.dcmtk
def test_dcmdump_reads_the_shifted_dates(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    ds = study(FIRST_STUDY)
    ds.save_as(source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    path, result = deidentify_file(source, out_dir, config(MODIFIED))
    days = shift(ds, result.dataset)
    assert -3650 <= days.days <= -1
    assert dcmdump_value(path, "0008,0020") == ymd(FIRST_STUDY + days)
    assert dcmdump_value(path, "0008,0012") == ymd(FIRST_STUDY - dt.timedelta(days=1) + days)
    assert dcmdump_value(path, "0008,002a") == ymd(FIRST_STUDY + days) + DT_REST
    assert dcmdump_value(path, "0028,0303") == "MODIFIED"
    assert dcmdump_value(path, "0010,0030") != BIRTH_DATE
