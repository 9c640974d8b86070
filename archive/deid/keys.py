"""The keys of reversible de-identification: the project's certificate that the replaced
values are encrypted for (PS3.15 E.1.1), and the private key that opens them again (E.1.2),
each checked with a message an operator understands."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


class CertificateRefused(ValueError):
    """The certificate can't be used to encrypt the original attributes."""


class ReidentifyFailed(Exception):
    """The Encrypted Attributes Sequence can't be opened with what the operator gave."""


def load_certificate(pem: bytes) -> x509.Certificate:
    """An X.509 certificate (PEM) fit for RSA key transport, valid now; else CertificateRefused."""
    if b"PRIVATE KEY-----" in pem:
        raise CertificateRefused(
            "This is a private key, not a certificate. Encrypting needs the certificate "
            "(-----BEGIN CERTIFICATE-----); keep the private key for re-identification."
        )
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise CertificateRefused(
            "Not a PEM certificate: expected a '-----BEGIN CERTIFICATE-----' block "
            "(convert a DER certificate with: openssl x509 -inform DER -in cert.der -out cert.pem)."
        )
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateRefused(f"The certificate can't be read: {exc}") from exc
    now = datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc < now:
        raise CertificateRefused(
            f"The certificate expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC."
        )
    if cert.not_valid_before_utc > now:
        raise CertificateRefused(
            f"The certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC."
        )
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateRefused(
            "The certificate has an elliptic-curve key; only RSA key transport is supported "
            "for the Encrypted Attributes Sequence."
        )
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertificateRefused(
            f"The certificate has a {type(key).__name__} key; only RSA key transport is supported."
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return cert
    if not usage.key_encipherment:
        raise CertificateRefused("The certificate's Key Usage does not allow key encipherment.")
    return cert


def certificate_summary(pem: bytes) -> str:
    """Subject, issuer, expiry and SHA-256 fingerprint of a certificate, for the UI."""
    cert = load_certificate(pem)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    return (
        f"Subject: {cert.subject.rfc4514_string()}\n"
        f"Issuer: {cert.issuer.rfc4514_string()}\n"
        f"Not after: {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC\n"
        f"SHA-256: {fingerprint}"
    )


def load_private_key(pem: bytes, password: bytes | None) -> rsa.RSAPrivateKey:
    """An RSA private key (PEM), opened with its password if it has one; else
    ReidentifyFailed saying what is wrong with it."""
    if b"-----BEGIN CERTIFICATE-----" in pem and b"PRIVATE KEY-----" not in pem:
        raise ReidentifyFailed(
            "This is a certificate, not a private key. Re-identification needs the private "
            "key that belongs to the certificate used for de-identification."
        )
    if b"PRIVATE KEY-----" not in pem:
        raise ReidentifyFailed(
            "Not a PEM private key: expected a '-----BEGIN ... PRIVATE KEY-----' block."
        )
    try:
        key = serialization.load_pem_private_key(pem, password)
    except TypeError as exc:
        if password is None:
            raise ReidentifyFailed(
                "The private key is protected by a password; give the password."
            ) from exc
        raise ReidentifyFailed(
            "The private key is not protected by a password; leave the password empty."
        ) from exc
    except ValueError as exc:
        if password is not None:
            raise ReidentifyFailed(
                "The private key can't be opened: wrong password or damaged key."
            ) from exc
        raise ReidentifyFailed(f"The private key can't be read: {exc}") from exc
    except UnsupportedAlgorithm as exc:
        raise ReidentifyFailed(f"The private key uses an unsupported algorithm: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ReidentifyFailed(
            f"The private key is a {type(key).__name__}; the Encrypted Attributes Sequence "
            "uses RSA key transport, so an RSA key is needed."
        )
    return key
