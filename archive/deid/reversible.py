"""Reversible de-identification: the Encrypted Attributes Sequence (0400,0500).

PS3.15 E.1.1 lets a de-identifier keep the values it replaced or removed, encrypted for a
recipient who holds a private key, so that the data set can be re-identified later
(E.1.2). PS3.3 C.12.1.1.4.1 says how: each item of the Encrypted Attributes Sequence
holds the Encrypted Content Transfer Syntax UID (0400,0510) and the Encrypted Content
(0400,0520), a CMS EnvelopedData (RFC 5652, DER) whose payload is the *Encrypted
Attributes Data Set*: a data set, in that transfer syntax, holding the Modified Attributes
Sequence (0400,0550) with exactly one item, that item holding the original values.

This is what ``gdcmanon -c cert.pem -e`` writes and ``gdcmanon -k key.pem -d`` reads. Files
are interchangeable both ways (tests/test_it_encrypts_the_replaced_attributes.py).

Re-identification (``reidentify``) puts every attribute of the decrypted item back over
the de-identified data set, then removes the attributes a de-identification adds
(``ADDED_BY_DEIDENTIFICATION``: Patient Identity Removed, De-identification Method and its
Code Sequence, Longitudinal Temporal Information Modified, the Encrypted Attributes
Sequence) unless the decrypted originals hold them, i.e. unless the original had them.
So the de-identifier must put those attributes into the originals only when the original
data set had them, and put there every other attribute it replaced, emptied or removed
(a changed sequence as the whole original sequence). Media Storage SOP Instance UID in the
file meta follows a restored SOP Instance UID. gdcmanon -d behaves the same way.

Encryption goes through ``cryptography``'s PKCS7EnvelopeBuilder (RSA key transport,
AES-128/256-CBC). Opening goes through ``pkcs7_decrypt_der``; as that wants the recipient's
certificate and an operator holds only the private key, a stand-in certificate is made
from the key and the recipient identifier (issuer and serial number) found in the
EnvelopedData. Content encrypted with AES-192, 3DES or DES (gdcmanon --aes192, --des3,
--des), which that function does not take, is opened with the library's primitives, as
PS3.15 E.1.2 wants re-identifiers to open AES and Triple DES in all key lengths.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from enum import StrEnum
from io import BytesIO

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, algorithms, modes
from cryptography.hazmat.primitives.ciphers import Cipher as BlockCipher
from cryptography.hazmat.primitives.serialization import pkcs7
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from archive.deid import der
from archive.deid.keys import (
    ReidentifyFailed,
    load_certificate,
    load_private_key,
)

ENCRYPTED_ATTRIBUTES_SEQUENCE = 0x04000500
MODIFIED_ATTRIBUTES_SEQUENCE = 0x04000550
SPECIFIC_CHARACTER_SET = 0x00080005
SOP_INSTANCE_UID = 0x00080018

ADDED_BY_DEIDENTIFICATION: frozenset[int] = frozenset(
    {
        0x00120062,  # Patient Identity Removed
        0x00120063,  # De-identification Method
        0x00120064,  # De-identification Method Code Sequence
        0x00280303,  # Longitudinal Temporal Information Modified
        ENCRYPTED_ATTRIBUTES_SEQUENCE,
    }
)
"""Attributes a de-identification adds; re-identification removes them unless the
decrypted originals hold them (the original had them)."""

_CIPHER_NAMES = {
    "2.16.840.1.101.3.4.1.2": "AES-128-CBC",
    "2.16.840.1.101.3.4.1.22": "AES-192-CBC",
    "2.16.840.1.101.3.4.1.42": "AES-256-CBC",
    "1.3.14.3.2.7": "DES-CBC",
    "1.2.840.113549.3.7": "DES-EDE3-CBC (3DES)",
}
_OPENABLE = {"AES-128-CBC", "AES-256-CBC"}
_BLOCK_CIPHERS: dict[str, Callable[[bytes], BlockCipherAlgorithm]] = {
    "AES-192-CBC": algorithms.AES,
    "DES-EDE3-CBC (3DES)": TripleDES,
    "DES-CBC": TripleDES,  # a 64-bit key: DES
}
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"


class Cipher(StrEnum):
    """Content-encryption algorithm of the EnvelopedData (gdcmanon --aes128 / --aes256)."""

    AES128 = "aes128"
    AES256 = "aes256"

    @property
    def algorithm(self) -> type[algorithms.AES128] | type[algorithms.AES256]:
        return algorithms.AES128 if self is Cipher.AES128 else algorithms.AES256


# -- the Encrypted Attributes Data Set -----------------------------------------------------------


def encode_encrypted_attributes(originals: Dataset, character_set: object = None) -> bytes:
    """The Encrypted Attributes Data Set in Explicit VR Little Endian.

    Its only element is the Modified Attributes Sequence, with one item: the originals
    (gdcmanon -d reads just the first element of the decrypted data set). When
    ``character_set`` is given and the originals lack a Specific Character Set, the item
    gets one, so that its text decodes on its own; re-identification then restores it,
    which is harmless as it is the de-identified data set's own.
    """
    item = copy.deepcopy(originals)
    if character_set and SPECIFIC_CHARACTER_SET not in item:
        item.SpecificCharacterSet = character_set
    payload = Dataset()
    payload.ModifiedAttributesSequence = Sequence([item])
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, payload)
    return fp.getvalue()


def encrypted_attributes_item(
    originals: Dataset,
    certificate_pem: bytes,
    cipher: Cipher = Cipher.AES256,
    *,
    character_set: object = None,
) -> Dataset:
    """An item of the Encrypted Attributes Sequence holding ``originals``, for the certificate."""
    cert = load_certificate(certificate_pem)
    envelope = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(encode_encrypted_attributes(originals, character_set))
        .add_recipient(cert)
        .set_content_encryption_algorithm(cipher.algorithm)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    item = Dataset()
    item.EncryptedContentTransferSyntaxUID = ExplicitVRLittleEndian
    item.EncryptedContent = envelope + (b"\x00" if len(envelope) % 2 else b"")
    return item


def add_encrypted_attributes(
    ds: Dataset, originals: Dataset, certificate_pem: bytes, cipher: Cipher = Cipher.AES256
) -> None:
    """Append an Encrypted Attributes Sequence item holding ``originals`` to ``ds``.

    ``ds`` is the de-identified data set. When the originals lack a SOP Instance UID (the
    de-identification kept it, e.g. Retain UIDs Option) and ``ds`` has one, it goes into
    the originals too: gdcmanon -d refuses an Encrypted Attributes Data Set without one.
    """
    if SOP_INSTANCE_UID not in originals and SOP_INSTANCE_UID in ds:
        originals = copy.deepcopy(originals)
        originals[SOP_INSTANCE_UID] = copy.deepcopy(ds[SOP_INSTANCE_UID])
    item = encrypted_attributes_item(
        originals, certificate_pem, cipher, character_set=ds.get("SpecificCharacterSet")
    )
    if ENCRYPTED_ATTRIBUTES_SEQUENCE not in ds:
        ds.EncryptedAttributesSequence = Sequence()
    ds.EncryptedAttributesSequence.append(item)


# -- opening it ---------------------------------------------------------------------------


def _stand_in_certificate(key: rsa.RSAPrivateKey, recipient: der.Recipient) -> x509.Certificate:
    """A self-signed certificate with the recipient's issuer and serial number and the key's
    public key: what pkcs7_decrypt_der needs to pick the recipient and check the key."""
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tbs = der.tbs_certificate(recipient.serial_tlv, recipient.issuer_tlv, spki)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return x509.load_der_x509_certificate(der.certificate(tbs, signature))


def _open_envelope(content: bytes, key: rsa.RSAPrivateKey) -> bytes:
    try:
        envelope = der.parse_enveloped_data(content)
    except der.DerError as exc:
        raise ReidentifyFailed(f"The Encrypted Content is not a CMS EnvelopedData: {exc}") from exc
    cipher = _CIPHER_NAMES.get(envelope.content_cipher_oid, envelope.content_cipher_oid)
    if cipher not in _OPENABLE and cipher not in _BLOCK_CIPHERS:
        raise ReidentifyFailed(
            f"The originals are encrypted with {cipher}, which this console can't open "
            "(AES and Triple DES only); try gdcmanon -d or openssl cms -decrypt."
        )
    if not envelope.recipients:
        raise ReidentifyFailed(
            "The Encrypted Content names no RSA recipient (issuer and serial number)."
        )
    for recipient in envelope.recipients:
        try:
            if cipher in _OPENABLE:
                certificate = _stand_in_certificate(key, recipient)
                return pkcs7.pkcs7_decrypt_der(envelope.der, certificate, key, [])
            return _open_with_primitives(envelope, recipient, key, _BLOCK_CIPHERS[cipher])
        except ValueError:
            continue
    raise ReidentifyFailed(
        "This private key does not open the Encrypted Attributes Sequence: it was "
        "encrypted for another certificate (recipient: "
        + "; ".join(r.describe() for r in envelope.recipients)
        + ")."
    )


def _open_with_primitives(
    envelope: der.EnvelopedData,
    recipient: der.Recipient,
    key: rsa.RSAPrivateKey,
    algorithm: Callable[[bytes], BlockCipherAlgorithm],
) -> bytes:
    """RFC 5652 6.2.1 and 6.3 by hand, for the ciphers pkcs7_decrypt_der lacks (AES-192,
    3DES, DES): unwrap the content-encryption key with RSA PKCS #1 v1.5, decrypt in CBC
    mode, remove the padding. Any failure is a ValueError (the key does not open it)."""
    if recipient.key_algorithm_oid != RSA_ENCRYPTION:
        raise ValueError(f"key transport {recipient.key_algorithm_oid} is not rsaEncryption")
    block = algorithm(key.decrypt(recipient.encrypted_key, padding.PKCS1v15()))
    decryptor = BlockCipher(block, modes.CBC(envelope.iv)).decryptor()
    padded = decryptor.update(envelope.encrypted_content) + decryptor.finalize()
    unpadder = block_padding.PKCS7(block.block_size).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _read_payload(plain: bytes, syntax: str) -> Dataset:
    if syntax != ExplicitVRLittleEndian:
        raise ReidentifyFailed(
            f"The Encrypted Content Transfer Syntax is {syntax or 'missing'}; only "
            f"Explicit VR Little Endian ({ExplicitVRLittleEndian}) is supported."
        )
    try:
        payload = read_dataset(BytesIO(plain), is_implicit_VR=False, is_little_endian=True)
        items = payload[MODIFIED_ATTRIBUTES_SEQUENCE].value
    except Exception as exc:  # garbage from a wrong key: any parse error
        raise ReidentifyFailed(  # RSA's implicit rejection makes a wrong key look like this
            "This private key does not open the Encrypted Attributes Sequence (it was "
            "encrypted for another certificate), or its content is damaged: what it "
            "decrypts to is not an Encrypted Attributes Data Set."
        ) from exc
    if len(items) != 1:
        raise ReidentifyFailed(
            f"The Modified Attributes Sequence has {len(items)} items; exactly one is expected."
        )
    originals: Dataset = items[0]
    for elem in originals:  # decode the values now, with the payload's character set
        _ = elem.value
    return originals


def decrypt_originals(
    item: Dataset, private_key_pem: bytes, password: bytes | None = None
) -> Dataset:
    """The original attributes held in one Encrypted Attributes Sequence item."""
    key = load_private_key(private_key_pem, password)
    return _decrypt_with(item, key)


def _decrypt_with(item: Dataset, key: rsa.RSAPrivateKey) -> Dataset:
    content = item.get("EncryptedContent")
    if not content:
        raise ReidentifyFailed(
            "The Encrypted Attributes Sequence item has no Encrypted Content (0400,0520)."
        )
    plain = _open_envelope(bytes(content), key)
    return _read_payload(plain, str(item.get("EncryptedContentTransferSyntaxUID", "")))


def reidentify(ds: Dataset, private_key_pem: bytes, password: bytes | None = None) -> Dataset:
    """A copy of ``ds`` with the original attributes put back (see the module docstring)."""
    items = ds.get("EncryptedAttributesSequence")
    if not items:
        raise ReidentifyFailed(
            "The data set has no Encrypted Attributes Sequence (0400,0500): it was not "
            "de-identified reversibly, or the sequence was removed."
        )
    key = load_private_key(private_key_pem, password)
    failures: list[str] = []
    for item in items:
        try:
            originals = _decrypt_with(item, key)
        except ReidentifyFailed as exc:
            failures.append(str(exc))
            continue
        return _restore(ds, originals)
    raise ReidentifyFailed(failures[0] if len(set(failures)) == 1 else " / ".join(failures))


def _restore(ds: Dataset, originals: Dataset) -> Dataset:
    out = copy.deepcopy(ds)
    for tag in ADDED_BY_DEIDENTIFICATION:
        if tag not in originals and tag in out:
            del out[tag]
    for elem in originals:
        out[elem.tag] = copy.deepcopy(elem)
    meta = getattr(out, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in originals and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = originals.SOPInstanceUID
    return out
