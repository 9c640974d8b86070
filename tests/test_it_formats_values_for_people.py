"""Display filters: durations, sizes, DIMSE statuses (meanings from pynetdicom's service
tables, an independent source), DICOM dates, labels and percentages, as pages show them."""

import datetime as dt

import pytest
from django.template import Context, Template
from pynetdicom import status as pnd_status

from console.templatetags import console_format as fmt


@pytest.mark.parametrize(("seconds", "text"), [
    (0.088, "88 ms"), (0.0004, "0 ms"), (2.414, "2.41 s"), (12.34, "12.3 s"),
    (192, "3 min 12 s"), (7500, "2 h 05 min"), (3 * 86400 + 7200, "3 d 2 h"), (-1, "0 ms"),
])
def test_durations_read_like_a_person_says_them(seconds: float, text: str) -> None:
    assert fmt.duration(seconds) == text
    assert fmt.duration(dt.timedelta(seconds=seconds)) == text if seconds >= 0 else True
    assert fmt.duration_ms(seconds * 1000) == text


def test_missing_durations_and_sizes_are_a_dash() -> None:
    assert fmt.duration(None) == fmt.duration("") == fmt.size(None) == fmt.duration_ms(None)
    assert fmt.duration(None) == "—"


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 bytes"), (1, "1 byte"), (999, "999 bytes"), (1000, "1.0 KB"), (4_200_000, "4.2 MB"),
    (123_456_789, "123 MB"), (5 * 10**12, "5.0 TB"), ("2048", "2.0 KB"),
])
def test_sizes_use_decimal_units(size: int | str, text: str) -> None:
    assert fmt.size(size) == text


@pytest.mark.parametrize(("service", "table"), [
    ("C-STORE", pnd_status.STORAGE_SERVICE_CLASS_STATUS),
    ("C-FIND", pnd_status.QR_FIND_SERVICE_CLASS_STATUS),
    ("C-MOVE", pnd_status.QR_MOVE_SERVICE_CLASS_STATUS),
    ("C-GET", pnd_status.QR_GET_SERVICE_CLASS_STATUS),
])
def test_every_status_of_a_service_shows_hex_and_its_meaning(
    service: str, table: dict[int, tuple[str, str]]
) -> None:
    for code, (category, meaning) in table.items():
        html = str(fmt.dimse_status(code, service))
        assert f"<code>0x{code:04X}</code>" in html
        assert meaning.replace("'", "&#x27;") in html or meaning in html
        assert f"dimse-{category.lower()}" in html


def test_status_text_forms_and_unknown_codes() -> None:
    assert "0xA801" in str(fmt.dimse_status("0xa801", "C-MOVE"))
    unknown = str(fmt.dimse_status(0xA7F0))  # a failure range code nobody names
    assert "<code>0xA7F0</code>" in unknown and "dimse-failure" in unknown
    assert fmt.dimse_status(None) == "—" and fmt.dimse_status("nonsense") == "nonsense"
    assert fmt.hex4(0xFF01) == "0xFF01" and fmt.hex4("x") == "—"


def test_status_in_a_template_is_escaped_markup() -> None:
    html = Template("{% load console_format %}{{ s|dimse_status:'C-STORE' }}").render(
        Context({"s": 0xA700}))
    assert html.startswith('<span class="dimse-status dimse-failure"') and "&lt;" not in html


@pytest.mark.parametrize(("key", "text"), [
    ("max_matches", "Max matches"), ("ae", "AE"), ("sop_instance_uid", "SOP Instance UID"),
    ("called_ae_title", "Called AE title"), ("use-tls", "Use TLS"), ("qr_level", "Q/R level"),
])
def test_keys_become_labels(key: str, text: str) -> None:
    assert fmt.label(key) == text


def test_dicom_dates_and_percentages() -> None:
    assert fmt.dicom_date("20240305") == "2024-03-05"
    assert fmt.dicom_date(dt.date(2024, 3, 5)) == "2024-03-05"
    assert fmt.dicom_date(dt.datetime(2024, 3, 5, 9, 0)) == "2024-03-05"
    assert fmt.dicom_date("") == "—" and fmt.dicom_date("2024") == "2024"
    assert fmt.percent(1, 3) == 33 and fmt.percent(5, 0) == 0 and fmt.percent(9, 4) == 100
    assert fmt.percent("x", 3) == 0
