"""The few ASN.1 DER structures the Encrypted Attributes Sequence needs (X.690, RFC 5652).

Reading: the outer length of a CMS ContentInfo (the Encrypted Content (0400,0520) is an
OB value, padded to an even length, so a trailing 00 may follow the DER), the content
encryption algorithm, and each key-transport recipient's issuer and serial number.
Writing: a minimal self-signed X.509 v1 certificate for a given issuer and serial number.
"""

from __future__ import annotations

from dataclasses import dataclass

OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
SEQUENCE, SET, INTEGER, OID, CONTEXT_0 = 0x30, 0x31, 0x02, 0x06, 0xA0


class DerError(ValueError):
    """Bytes that are not the DER structure expected."""


@dataclass(frozen=True)
class Tlv:
    tag: int
    start: int  # offset of the tag byte
    body: int  # offset of the contents
    end: int  # offset after the contents


def read_tlv(data: bytes, pos: int) -> Tlv:
    """The DER tag-length-value at ``pos`` (single-byte tags, definite lengths)."""
    if pos + 2 > len(data):
        raise DerError(f"truncated at byte {pos}")
    tag, first = data[pos], data[pos + 1]
    if first < 0x80:
        body, length = pos + 2, first
    elif first == 0x80 or first > 0x84:
        raise DerError(f"unsupported length form 0x{first:02x} at byte {pos + 1}")
    else:
        count = first & 0x7F
        body = pos + 2 + count
        length = int.from_bytes(data[pos + 2 : body], "big")
    if body + length > len(data):
        raise DerError(f"length {length} at byte {pos} runs past the end ({len(data)} bytes)")
    return Tlv(tag, pos, body, body + length)


def children(data: bytes, parent: Tlv) -> list[Tlv]:
    out, pos = [], parent.body
    while pos < parent.end:
        child = read_tlv(data, pos)
        out.append(child)
        pos = child.end
    return out


def decode_oid(raw: bytes) -> str:
    arcs, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise DerError("empty object identifier")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


@dataclass(frozen=True)
class Recipient:
    """A KeyTransRecipientInfo identified by issuer and serial number (RFC 5652 6.2.1)."""

    issuer_tlv: bytes
    serial_tlv: bytes
    key_algorithm_oid: str = ""  # keyEncryptionAlgorithm: 1.2.840.113549.1.1.1 rsaEncryption
    encrypted_key: bytes = b""

    def describe(self) -> str:
        serial = read_tlv(self.serial_tlv, 0)
        number = int.from_bytes(_body(self.serial_tlv, serial), "big")
        return f"issuer {describe_name(self.issuer_tlv)}, serial {number:X}"


_NAME_KEYS = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
}


def describe_name(name_tlv: bytes) -> str:
    """An X.501 Name as "CN=...,O=..." (for messages; unknown attributes by their OID)."""
    parts = []
    try:
        for rdn in children(name_tlv, read_tlv(name_tlv, 0)):
            for pair in children(name_tlv, rdn):
                oid, value = children(name_tlv, pair)[:2]
                key = decode_oid(_body(name_tlv, oid))
                text = _body(name_tlv, value).decode("utf-8", "replace")
                parts.append(f"{_NAME_KEYS.get(key, key)}={text}")
    except (DerError, ValueError):
        return name_tlv.hex()
    return ",".join(parts)


@dataclass(frozen=True)
class EnvelopedData:
    der: bytes  # the ContentInfo, without trailing padding
    content_cipher_oid: str
    recipients: tuple[Recipient, ...]
    iv: bytes = b""  # the content-encryption algorithm's parameters (CBC initialisation vector)
    encrypted_content: bytes = b""


def parse_enveloped_data(data: bytes) -> EnvelopedData:
    """The parts of a CMS ContentInfo holding an EnvelopedData that opening it needs."""
    try:
        return _parse_enveloped_data(data)
    except DerError:
        raise
    except (IndexError, ValueError) as exc:
        raise DerError(f"its structure is not an EnvelopedData ({exc})") from exc


def _parse_enveloped_data(data: bytes) -> EnvelopedData:
    outer = read_tlv(data, 0)
    if outer.tag != SEQUENCE:
        raise DerError("it does not start with a SEQUENCE")
    if any(data[outer.end :]):
        raise DerError(f"{len(data) - outer.end} unexpected bytes follow the structure")
    content_type, wrapped = [*children(data, outer), outer, outer][:2]
    if (
        content_type.tag != OID
        or decode_oid(data[content_type.body : content_type.end]) != OID_ENVELOPED_DATA
    ):
        raise DerError("its content type is not envelopedData (1.2.840.113549.1.7.3)")
    if wrapped.tag != CONTEXT_0:
        raise DerError("the EnvelopedData is missing")
    (enveloped,) = children(data, wrapped)[:1]
    parts = [p for p in children(data, enveloped) if p.tag in (SET, SEQUENCE)]
    if len(parts) < 2:
        raise DerError("the EnvelopedData has no recipientInfos or encryptedContentInfo")
    recipient_set, content_info = parts[0], parts[1]
    content_parts = children(data, content_info)
    algorithm = children(data, content_parts[1])
    cipher_oid = decode_oid(_body(data, algorithm[0]))
    iv = _body(data, algorithm[1]) if len(algorithm) > 1 and algorithm[1].tag == 0x04 else b""
    encrypted = _octets(data, content_parts[2]) if len(content_parts) > 2 else b""
    recipients = []
    for info in children(data, recipient_set):
        if info.tag != SEQUENCE:  # kari [1], kekri [2], pwri [3], ori [4]: not key transport
            continue
        _, rid, key_algorithm, encrypted_key = children(data, info)[:4]
        if rid.tag != SEQUENCE:  # [0] subjectKeyIdentifier
            continue
        issuer, serial = children(data, rid)[:2]
        key_oid = decode_oid(_body(data, children(data, key_algorithm)[0]))
        recipients.append(
            Recipient(
                data[issuer.start : issuer.end],
                data[serial.start : serial.end],
                key_oid,
                _body(data, encrypted_key),
            )
        )
    return EnvelopedData(data[: outer.end], cipher_oid, tuple(recipients), iv, encrypted)


def _octets(data: bytes, tlv: Tlv) -> bytes:
    """An [0] IMPLICIT OCTET STRING: primitive (DER), or constructed of chunks (BER)."""
    if tlv.tag & 0x20:
        return b"".join(_octets(data, chunk) for chunk in children(data, tlv))
    return _body(data, tlv)


def _body(data: bytes, tlv: Tlv) -> bytes:
    return data[tlv.body : tlv.end]


def encode(tag: int, contents: bytes) -> bytes:
    n = len(contents)
    if n < 0x80:
        return bytes([tag, n]) + contents
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + contents


def tbs_certificate(serial_tlv: bytes, name_tlv: bytes, spki: bytes) -> bytes:
    """An X.509 v1 TBSCertificate with that serial, issuer = subject = name, and key."""
    validity = encode(SEQUENCE, encode(0x17, b"000101000000Z") + encode(0x17, b"491231235959Z"))
    return encode(SEQUENCE, serial_tlv + SHA256_WITH_RSA + name_tlv + validity + name_tlv + spki)


def certificate(tbs: bytes, signature: bytes) -> bytes:
    return encode(SEQUENCE, tbs + SHA256_WITH_RSA + encode(0x03, b"\x00" + signature))
