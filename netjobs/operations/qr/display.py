"""C-FIND match values as a person reads them on the job page: DA ``20190124`` as
``2019-01-24``, TM ``101530.25`` as ``10:15:30.25``, DT as date and time, ranges with an en
dash. The downloads (CSV, JSON) keep the values exactly as the peer sent them."""

from __future__ import annotations

import re

from pydicom.datadict import dictionary_VR

_DA = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")
_DT = re.compile(r"^(\d{8})(\d{2,6}(?:\.\d{1,6})?)?([+-]\d{4})?$")


def _date(text: str) -> str:
    match = _DA.match(text)
    return "-".join(match.groups()) if match else text


def _time(text: str) -> str:
    match = _TM.match(text)
    if not match:
        return text
    hours, minutes, seconds, fraction = match.groups()
    shown = ":".join(part for part in (hours, minutes, seconds) if part)
    return shown + (fraction or "")


def _datetime(text: str) -> str:
    match = _DT.match(text)
    if not match:
        return text
    date, time, offset = match.groups()
    shown = _date(date) + (f" {_time(time)}" if time else "")
    return shown + (f" UTC{offset[:3]}:{offset[3:]}" if offset else "")


_FORMATTERS = {"DA": _date, "TM": _time, "DT": _datetime}


def _one(vr: str, text: str) -> str:
    """One value, or a range ``start-end`` (either side may be open). A DT's ``-0500`` is a
    UTC offset, not a range, when the whole text is one date-time."""
    formatter = _FORMATTERS[vr]
    if "-" not in text or (vr == "DT" and _DT.match(text)):
        return formatter(text)
    start, _, end = text.partition("-")
    return f"{formatter(start) if start else ''} – {formatter(end) if end else ''}".strip()


def display_value(keyword: str, value: str) -> str:
    """``value`` of the attribute ``keyword`` (a match's text, multi-values joined with
    backslashes), with dates and times readable; anything else unchanged."""
    try:
        vr = dictionary_VR(keyword)
    except (KeyError, ValueError):  # a private or unknown keyword: shown as given
        return value
    if vr not in _FORMATTERS or not value:
        return value
    return "\\".join(_one(vr, part.strip()) for part in value.split("\\"))
