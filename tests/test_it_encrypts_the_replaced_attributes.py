"""The Encrypted Attributes Sequence (0400,0500): PS3.15 E.1.1/E.1.2, PS3.3 C.12.1.1.4.1.

Oracles: ``openssl cms -decrypt`` opens our Encrypted Content; ``gdcmanon -c cert -e`` output
is opened by us, ours is opened by ``gdcmanon -k key -d``, with dcmdump reading the result.
"""

from __future__ import annotations

import copy
import datetime
import subprocess
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_data_element
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from archive.deid.keys import (
    CertificateRefused,
    ReidentifyFailed,
    certificate_summary,
    load_certificate,
)
from archive.deid.reversible import (
    Cipher,
    add_encrypted_attributes,
    decrypt_originals,
    encrypted_attributes_item,
    reidentify,
)
from tests.deid_certificates import make_key_and_certificate
from tests.peers import require_tool

CORPUS = Path("/work/shared/dicom-corpus")
MR = CORPUS / "MR2_UNCI.dcm"
CT = CORPUS / "eCT_Supplemental.dcm"  # 693_UNCI.dcm is de-identified already: gdcmanon refuses it


def element_bytes(elem: pydicom.DataElement) -> bytes:
    """The element as pydicom encodes it in Explicit VR Little Endian."""
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_data_element(fp, elem)
    return fp.getvalue()


def dump(path: Path, *tags: str) -> list[str]:
    """dcmdump's lines for those tags (value and VR, without the comment)."""
    args = [require_tool("dcmdump"), "-q"] + [a for t in tags for a in ("+P", t)] + [str(path)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [line.split("#")[0].rstrip() for line in out.splitlines() if line.strip()]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return make_key_and_certificate(tmp_path)


def sample_originals() -> Dataset:
    source = pydicom.dcmread(MR)
    originals = Dataset()
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "StudyInstanceUID",
        "SourceImageSequence",
    ):
        originals[keyword] = copy.deepcopy(source[keyword])
    originals.PatientName = "Müller^Jürgen"
    originals.SpecificCharacterSet = "ISO_IR 100"
    return originals


@pytest.mark.parametrize("cipher", list(Cipher))
def test_originals_come_back_byte_for_byte(keys: tuple[Path, Path], cipher: Cipher) -> None:
    key, cert = keys
    originals = sample_originals()
    item = encrypted_attributes_item(originals, cert.read_bytes(), cipher)
    assert item.EncryptedContentTransferSyntaxUID == ExplicitVRLittleEndian
    assert len(item.EncryptedContent) % 2 == 0
    back = decrypt_originals(item, key.read_bytes())
    assert [e.tag for e in back] == [e.tag for e in originals]
    for elem in originals:
        assert element_bytes(back[elem.tag]) == element_bytes(elem), elem.keyword
    assert str(back.PatientName) == "Müller^Jürgen"


def test_openssl_cms_opens_our_encrypted_content(keys: tuple[Path, Path], tmp_path: Path) -> None:
    key, cert = keys
    originals = sample_originals()
    item = encrypted_attributes_item(originals, cert.read_bytes())
    content = tmp_path / "content.der"
    content.write_bytes(item.EncryptedContent)
    plain = subprocess.run(
        [
            require_tool("openssl"),
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-in",
            str(content),
            "-inkey",
            str(key),
        ],
        check=True,
        capture_output=True,
    ).stdout
    payload = read_dataset(BytesIO(plain), is_implicit_VR=False, is_little_endian=True)
    assert [e.tag for e in payload] == [0x04000550]
    (opened,) = payload.ModifiedAttributesSequence
    for elem in originals:
        assert element_bytes(opened[elem.tag]) == element_bytes(elem), elem.keyword


@pytest.mark.parametrize("source", [MR, CT], ids=lambda p: p.name)
def test_we_open_what_gdcmanon_encrypted(
    keys: tuple[Path, Path], tmp_path: Path, source: Path
) -> None:
    key, cert = keys
    out = tmp_path / "anon.dcm"
    subprocess.run(
        [require_tool("gdcmanon"), "-c", str(cert), "-e", str(source), str(out)], check=True
    )
    original, anonymized = pydicom.dcmread(source), pydicom.dcmread(out)
    assert anonymized.PatientName != original.PatientName or not original.PatientName
    originals = decrypt_originals(anonymized.EncryptedAttributesSequence[0], key.read_bytes())
    assert "PatientID" in originals and "SOPInstanceUID" in originals
    for elem in originals:
        assert element_bytes(elem) == element_bytes(original[elem.tag]), elem.keyword
    restored = reidentify(anonymized, key.read_bytes())
    assert [e.tag for e in restored] == [e.tag for e in original]
    for elem in original:
        if elem.tag != 0x7FE00010:
            assert element_bytes(restored[elem.tag]) == element_bytes(elem), elem.keyword
    assert (
        restored.file_meta.MediaStorageSOPInstanceUID
        == original.file_meta.MediaStorageSOPInstanceUID
    )


def test_gdcmanon_opens_what_we_encrypted(keys: tuple[Path, Path], tmp_path: Path) -> None:
    key, cert = keys
    ds = pydicom.dcmread(MR)
    replaced = (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "StudyInstanceUID",
        "SOPInstanceUID",
    )
    originals = Dataset()
    for keyword in replaced:
        originals[keyword] = copy.deepcopy(ds[keyword])
    ds.PatientName, ds.PatientID = "", ""
    del ds.PatientBirthDate
    ds.StudyInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "console test"
    add_encrypted_attributes(ds, originals, cert.read_bytes())
    ours, back = tmp_path / "ours.dcm", tmp_path / "back.dcm"
    ds.save_as(ours)
    subprocess.run(
        [require_tool("gdcmanon"), "-k", str(key), "-d", str(ours), str(back)], check=True
    )
    tags = ["0010,0010", "0010,0020", "0010,0030", "0020,000d", "0008,0018", "0002,0003"]
    assert dump(back, *tags) == dump(MR, *tags)
    assert dump(back, "0012,0062", "0012,0063", "0400,0500") == []
    ours_back = reidentify(pydicom.dcmread(ours), key.read_bytes())
    for keyword in replaced:
        assert ours_back[keyword].value == pydicom.dcmread(MR)[keyword].value
    assert (
        "PatientIdentityRemoved" not in ours_back and "EncryptedAttributesSequence" not in ours_back
    )


def test_the_sop_instance_uid_always_travels(keys: tuple[Path, Path]) -> None:
    """gdcmanon -d refuses originals without a SOP Instance UID, so a kept one goes in too."""
    key, cert = keys
    ds = pydicom.dcmread(MR)
    originals = Dataset()
    originals.PatientName = ds.PatientName
    add_encrypted_attributes(ds, originals, cert.read_bytes())
    opened = decrypt_originals(ds.EncryptedAttributesSequence[0], key.read_bytes())
    assert opened.SOPInstanceUID == ds.SOPInstanceUID
    assert "SOPInstanceUID" not in originals


def test_a_password_protected_key_opens_with_its_password(tmp_path: Path) -> None:
    key, cert = make_key_and_certificate(tmp_path, password="s3cret")
    item = encrypted_attributes_item(sample_originals(), cert.read_bytes())
    assert decrypt_originals(item, key.read_bytes(), b"s3cret").PatientID
    with pytest.raises(ReidentifyFailed, match="protected by a password"):
        decrypt_originals(item, key.read_bytes())
    with pytest.raises(ReidentifyFailed, match="wrong password"):
        decrypt_originals(item, key.read_bytes(), b"nope")


def test_operators_get_clear_refusals(keys: tuple[Path, Path], tmp_path: Path) -> None:
    key, cert = keys
    other_key, _ = make_key_and_certificate(tmp_path, name="other")
    ds = pydicom.dcmread(MR)
    with pytest.raises(ReidentifyFailed, match="no Encrypted Attributes Sequence"):
        reidentify(ds, key.read_bytes())
    add_encrypted_attributes(ds, sample_originals(), cert.read_bytes())
    # RSA PKCS #1 v1.5 with implicit rejection (OpenSSL 3.2+) may give a wrong key a random
    # content key instead of an error: the refusal then comes from the content, not the key
    with pytest.raises(ReidentifyFailed, match=r"does not open"):
        reidentify(ds, other_key.read_bytes())
    with pytest.raises(ReidentifyFailed, match="Not a PEM private key"):
        reidentify(ds, b"garbage")
    with pytest.raises(ReidentifyFailed, match="certificate, not a private key"):
        reidentify(ds, cert.read_bytes())
    with pytest.raises(CertificateRefused, match="Not a PEM certificate"):
        load_certificate(b"garbage")
    with pytest.raises(CertificateRefused, match="private key, not a certificate"):
        load_certificate(key.read_bytes())
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(CertificateRefused, match="can't be read"):
        load_certificate(broken)


@pytest.mark.parametrize("cipher", ["--aes128", "--aes192", "--aes256", "--des3", "--des"])
def test_every_gdcmanon_cipher_opens(keys: tuple[Path, Path], tmp_path: Path, cipher: str) -> None:
    """PS3.15 E.1.2: re-identifiers open AES and Triple DES in all key lengths."""
    key, cert = keys
    other_key, _ = make_key_and_certificate(tmp_path, name="other")
    out = tmp_path / "anon.dcm"
    gdcmanon = [require_tool("gdcmanon"), "-c", str(cert), "-e", cipher, str(MR), str(out)]
    subprocess.run(gdcmanon, check=True)
    original = pydicom.dcmread(MR)
    restored = reidentify(pydicom.dcmread(out), key.read_bytes())
    for elem in original:
        assert element_bytes(restored[elem.tag]) == element_bytes(elem), elem.keyword
    with pytest.raises(ReidentifyFailed, match="does not open"):
        reidentify(pydicom.dcmread(out), other_key.read_bytes())


def self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, days: int) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "refused")])
    now = datetime.datetime.now(datetime.UTC)
    start = now - datetime.timedelta(days=30) if days < 0 else now
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_expired_and_non_rsa_certificates_are_refused() -> None:
    with pytest.raises(CertificateRefused, match="expired on"):
        load_certificate(self_signed(rsa.generate_private_key(65537, 2048), days=-1))
    with pytest.raises(CertificateRefused, match="elliptic-curve"):
        load_certificate(self_signed(ec.generate_private_key(ec.SECP256R1()), days=30))


def test_the_summary_matches_openssl(keys: tuple[Path, Path]) -> None:
    _, cert = keys
    fingerprint = (
        subprocess.run(
            [
                require_tool("openssl"),
                "x509",
                "-in",
                str(cert),
                "-noout",
                "-fingerprint",
                "-sha256",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .split("=", 1)[1]
    )
    summary = certificate_summary(cert.read_bytes())
    assert f"SHA-256: {fingerprint}" in summary
    assert "Subject: O=DICOM console tests,CN=recipient" in summary


@pytest.mark.parametrize("cut", [0, 7, 40, 400, -20])
def test_damaged_encrypted_content_is_refused(keys: tuple[Path, Path], cut: int) -> None:
    key, cert = keys
    item = encrypted_attributes_item(sample_originals(), cert.read_bytes())
    content = bytes(item.EncryptedContent)
    item.EncryptedContent = content[:cut] + b"\x00" * 4 if cut else b"\x30\x03\x02\x01\x00\x00"
    with pytest.raises(ReidentifyFailed):
        decrypt_originals(item, key.read_bytes())
