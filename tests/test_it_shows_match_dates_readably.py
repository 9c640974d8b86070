"""C-FIND match values on the job page: dates, times and date-times readable (checked against
pydicom's own parsing of the same DICOM values), ranges and multiple values kept apart,
everything else shown exactly as the peer sent it."""

import datetime as dt

import pytest
from pydicom.valuerep import DA, DT, TM

from netjobs.operations.qr.display import display_value


@pytest.mark.parametrize("value", ["20190124", "19991231", "20240229"])
def test_dates_match_pydicom(value: str) -> None:
    assert display_value("StudyDate", value) == DA(value).isoformat()


@pytest.mark.parametrize("value", ["101530.25", "101530", "1015", "10", "235959.999999"])
def test_times_match_pydicom(value: str) -> None:
    shown = display_value("StudyTime", value)
    assert dt.time.fromisoformat(shown if ":" in shown else f"{shown}:00") == TM(value)


@pytest.mark.parametrize("value", ["20190124101530.5+0100", "20190124101530-0500",
                                   "201901241015", "20190124"])
def test_date_times_match_pydicom(value: str) -> None:
    shown = display_value("AcquisitionDateTime", value).replace(" UTC", "")
    if len(value) == 8:
        assert shown == DA(value).isoformat()
        return
    parsed = dt.datetime.fromisoformat(shown)
    assert parsed == DT(value).replace(tzinfo=parsed.tzinfo) if parsed.tzinfo is None \
        else parsed == DT(value)


def test_ranges_and_multiple_values() -> None:
    assert display_value("StudyDate", "20190101-20190131") == "2019-01-01 – 2019-01-31"
    assert display_value("StudyDate", "20190101-") == "2019-01-01 –"
    assert display_value("StudyDate", "-20190131") == "– 2019-01-31"
    assert display_value("StudyTime", "0800-1200") == "08:00 – 12:00"
    assert display_value("StudyDate", "20190101\\20190102") == "2019-01-01\\2019-01-02"


@pytest.mark.parametrize(("keyword", "value"), [
    ("PatientName", "DOE^JOHN"), ("StudyDate", "2019.01.24"), ("StudyDate", ""),
    ("AccessionNumber", "20190124"), ("NotAKeyword", "20190124"), ("StudyTime", "garbage"),
])
def test_other_values_are_shown_as_sent(keyword: str, value: str) -> None:
    assert display_value(keyword, value) == value
