"""Dates under the Retain Longitudinal Temporal Information with Modified Dates Option
(PS3.15 E.3.6): every date of a patient moves by the same number of days, so intervals between
studies survive and the calendar dates do not. The offset is derived from the project key and
the patient's original ID, so a second delivery of the same patient shifts the same way."""

from __future__ import annotations

import datetime as dt
import re

from archive.deid.uids import keyed_digest

MAX_SHIFT_DAYS = 3650  # dates move back by 1 to 3650 days
_DA = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# PS3.5 Table 6.2-1: YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?((?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?)"
                 r"([+-]\d{4})?$")


class DateRefused(ValueError):
    """A date or date-time value that cannot be read, so it cannot be shifted."""


def offset_days(project_key: bytes, patient_id: str) -> int:
    """The shift of this patient's dates: a negative whole number of days."""
    digest = keyed_digest(project_key, "date-offset", patient_id.strip())
    return -(int.from_bytes(digest[:4], "big") % MAX_SHIFT_DAYS + 1)


def shift_date(value: str, days: int) -> str:
    """A DA value (YYYYMMDD) moved by ``days``."""
    text = value.strip()
    match = _DA.match(text)
    if match is None:
        raise DateRefused(f"{value!r} is not a DA date (YYYYMMDD)")
    try:
        day = dt.date(int(match[1]), int(match[2]), int(match[3]))
        return (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    except (ValueError, OverflowError) as exc:
        raise DateRefused(f"{value!r} is not a calendar date: {exc}") from exc


def shift_datetime(value: str, days: int) -> str:
    """A DT value moved by ``days``: its date part shifts, its time and UTC offset stay. A
    DT of only a year (or year and month) moves by whole years (months) as near as it can."""
    text = value.strip()
    match = _DT.match(text)
    if match is None:
        raise DateRefused(f"{value!r} is not a DT date-time")
    year, month, day, time, zone = match[1], match[2], match[3], match[4], match[5] or ""
    if (month is None or day is None) and time:
        raise DateRefused(f"{value!r} is not a DT date-time: a time needs the whole date")
    _check_time(value, time, zone)
    rest = time + zone
    if month is None:
        return f"{int(shift_date(f'{year}0701', days)[:4]):04d}{rest}"
    if day is None:
        return shift_date(f"{year}{month}15", days)[:6] + rest
    return shift_date(f"{year}{month}{day}", days) + rest


def _check_time(value: str, time: str, zone: str) -> None:
    hour, minute, second = (int(time[i:i + 2]) if len(time) > i else 0 for i in (0, 2, 4))
    zone_hours, zone_minutes = (int(zone[1:3]), int(zone[3:5])) if zone else (0, 0)
    if hour > 23 or minute > 59 or second > 60 or zone_hours > 14 or zone_minutes > 59:
        raise DateRefused(f"{value!r} is not a DT date-time: a time or offset out of range")
