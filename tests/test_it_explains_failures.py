"""Plain-language explanations and the A-ASSOCIATE-RJ decoding, tested directly."""

import socket

import pytest

from netjobs.dicom import explain
from netjobs.dicom.pdus import decode_rejection_pdu
from netjobs.dicom.status import StatusCategory, describe_status
from netjobs.models import ContextResult

PEER = explain.Peer("DICOMCONSOLE", "PACS", "127.0.0.1", 104)


def test_it_decodes_a_rejection_pdu() -> None:
    # PS3.8 9.3.4: type 03, reserved, length 4, reserved, result, source, reason
    assert decode_rejection_pdu(bytes([3, 0, 0, 0, 0, 4, 0, 1, 1, 7])) == (1, 1, 7)
    assert decode_rejection_pdu(bytes([2, 0, 0, 0, 0, 4, 0, 1, 1, 7])) is None
    assert decode_rejection_pdu(bytes([3, 0, 0, 0])) is None


@pytest.mark.parametrize(
    ("result", "source", "reason", "expected"),
    [
        (1, 1, 7, "does not accept the called AE title 'PACS'"),
        (1, 1, 3, "does not recognise the calling AE title 'DICOMCONSOLE'"),
        (1, 1, 1, "without giving a reason"),
        (1, 2, 2, "protocol version"),
        (2, 3, 1, "congested"),
        (2, 3, 2, "local limit"),
    ],
)
def test_it_explains_rejections(result: int, source: int, reason: int, expected: str) -> None:
    text = explain.explain_rejection(PEER, result, source, reason)
    assert expected in text
    assert ("transient" in text) == (result == 2)


def test_it_describes_rejection_fields() -> None:
    assert explain.describe_rejection(1, 1, 7) == (
        "Rejected (permanent); source: service user; reason: called AE title not recognised"
    )


def test_it_probes_why_a_connection_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert "Nothing is listening" in explain.explain_connection_failure("127.0.0.1", port, 1)
    assert "cannot be resolved" in explain.explain_connection_failure("no-such-host.invalid", 1, 1)


def test_it_explains_context_rejections() -> None:
    ct = "1.2.840.10008.5.1.4.1.1.2"
    text = explain.explain_context_rejection(
        ct, ["1.2.840.10008.1.2.4.80"], ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED
    )
    assert "No transfer syntax in common for CT Image Storage" in text
    assert "JPEG-LS Lossless Image Compression" in text
    assert "does not support CT Image Storage" in explain.explain_context_rejection(
        ct, [], ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED
    )


@pytest.mark.parametrize(
    ("code", "service", "category", "meaning"),
    [
        (0x0000, "C-ECHO", StatusCategory.SUCCESS, ""),
        (0xA700, "C-STORE", StatusCategory.FAILURE, "Out of Resources"),
        (0xB000, "C-STORE", StatusCategory.WARNING, "Coercion of Data Elements"),
        (0xA801, "C-MOVE", StatusCategory.FAILURE, "Move Destination Unknown"),
        (0xFF00, "C-FIND", StatusCategory.PENDING, "Matches are continuing"),
        (0x0122, "", StatusCategory.FAILURE, "Refused: SOP Class Not Supported"),
    ],
)
def test_it_describes_dimse_statuses(
    code: int, service: str, category: StatusCategory, meaning: str
) -> None:
    info = describe_status(code, service)
    assert info.category == category
    assert meaning.lower() in info.meaning.lower()
    assert info.hex == f"0x{code:04X}"
