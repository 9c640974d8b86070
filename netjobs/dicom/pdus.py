"""Reading PDUs as they came off the wire, where pynetdicom's own decoding is not enough."""

from __future__ import annotations

A_ASSOCIATE_RJ_PDU_TYPE = 0x03


def decode_rejection_pdu(pdu: bytes) -> tuple[int, int, int] | None:
    """(result, source, reason/diagnostic) of an A-ASSOCIATE-RJ PDU (PS3.8 9.3.4), else None."""
    if len(pdu) >= 10 and pdu[0] == A_ASSOCIATE_RJ_PDU_TYPE:
        return pdu[7], pdu[8], pdu[9]
    return None
