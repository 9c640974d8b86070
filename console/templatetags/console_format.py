"""Template filters that turn stored values into what a person reads: durations ("88 ms"),
sizes ("4.2 MB"), DIMSE statuses ("0xA801 Failure: Move destination unknown"), DICOM dates,
and labels for snake_case keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from netjobs.dicom.status import describe_status

register = template.Library()

_SIZE_UNITS = ("bytes", "KB", "MB", "GB", "TB")


def format_duration(seconds: float | None) -> str:
    """88 ms, 2.41 s, 3 min 12 s, 2 h 05 min."""
    if seconds is None:
        return "—"
    if seconds < 0:
        seconds = 0
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_size(size: int | float | None) -> str:
    """Decimal units as storage vendors and DCMTK's tools print them: 512 bytes, 4.2 MB."""
    if size is None:
        return "—"
    value = float(size)
    for unit in _SIZE_UNITS:
        if abs(value) < 1000 or unit == _SIZE_UNITS[-1]:
            if unit == "bytes":
                return f"{int(value)} byte{'s' if int(value) != 1 else ''}"
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.0f} TB"  # pragma: no cover - the loop returns


@register.filter
def duration(value: Any) -> str:
    """A timedelta or a number of seconds, as "88 ms" / "2.41 s" / "3 min 12 s"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.timedelta):
        return format_duration(value.total_seconds())
    try:
        return format_duration(float(value))
    except (TypeError, ValueError):
        return str(value)


@register.filter
def duration_ms(value: Any) -> str:
    """A number of milliseconds, as :func:`duration` prints it."""
    try:
        return format_duration(float(value) / 1000)
    except (TypeError, ValueError):
        return "—"


@register.filter
def size(value: Any) -> str:
    try:
        return format_size(None if value is None or value == "" else float(value))
    except (TypeError, ValueError):
        return str(value)


@register.filter
def dimse_status(value: Any, service: str = "") -> SafeString | str:
    """``0xA801`` with its category and meaning in a tooltip-free, readable form."""
    if value is None or value == "":
        return "—"
    try:
        code = int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return str(value)
    info = describe_status(code, service)
    meaning = info.meaning or info.category.value
    return format_html('<span class="dimse-status dimse-{}" title="{}"><code>{}</code> {}</span>',
                       info.category.value.lower().replace(" ", "-"), str(info), info.hex,
                       meaning)


@register.filter
def hex4(value: Any) -> str:
    try:
        return f"0x{int(value):04X}"
    except (TypeError, ValueError):
        return "—"


# Keys whose label is a DICOM attribute name, spelled as the standard spells it.
_DICOM_PHRASES = {
    "sop_instance_uid": "SOP Instance UID", "sop_instance_uids": "SOP Instance UIDs",
    "study_instance_uid": "Study Instance UID", "study_instance_uids": "Study Instance UIDs",
    "series_instance_uid": "Series Instance UID",
    "series_instance_uids": "Series Instance UIDs",
    "sop_class_uid": "SOP Class UID", "transfer_syntax_uid": "Transfer Syntax UID",
    "affected_sop_instance_uid": "Affected SOP Instance UID",
}


@register.filter
def label(key: Any) -> str:
    """``max_matches`` → "Max matches"; ``ae`` → "AE"; ``sop_instance_uid`` → "SOP Instance UID"."""
    phrase = _DICOM_PHRASES.get(str(key).replace("-", "_").lower())
    if phrase is not None:
        return phrase
    words = str(key).replace("-", "_").split("_")
    known = {"ae": "AE", "aes": "AEs", "uid": "UID", "uids": "UIDs", "sop": "SOP", "tls": "TLS",
             "pdu": "PDU", "id": "ID", "ids": "IDs", "mpps": "MPPS", "ian": "IAN",
             "dimse": "DIMSE", "csv": "CSV", "json": "JSON", "xml": "XML", "url": "URL",
             "ip": "IP", "tcp": "TCP", "kos": "KOS", "qr": "Q/R", "mwl": "MWL", "zip": "ZIP",
             "mb": "MB", "j2k": "J2K", "jpeg": "JPEG", "gif": "GIF", "png": "PNG"}
    out = [known.get(w.lower(), w) for w in words if w]
    if out and out[0] == out[0].lower():
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


@register.filter
def dicom_date(value: Any) -> str:
    """A date (or DICOM ``YYYYMMDD`` text) as ISO 8601 ``2024-03-05``."""
    if not value:
        return "—"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


@register.filter
def percent(done: Any, total: Any) -> int:
    try:
        d, t = int(done), int(total)
    except (TypeError, ValueError):
        return 0
    return 0 if t <= 0 else max(0, min(100, round(100 * d / t)))
