"""Key pairs and certificates for the de-identification tests, made with the openssl CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.peers import require_tool


def make_key_and_certificate(
    tmp_path: Path, name: str = "recipient", days: int = 365, password: str | None = None
) -> tuple[Path, Path]:
    """An RSA 2048 private key (PEM) and its self-signed X.509 certificate (PEM), like
    gdcmanon's manual: ``openssl genrsa`` then ``openssl req -new -x509``."""
    openssl = require_tool("openssl")
    key, cert = tmp_path / f"{name}_key.pem", tmp_path / f"{name}_cert.pem"
    genrsa = [openssl, "genrsa", "-out", str(key)]
    if password is not None:
        genrsa += ["-aes256", "-passout", f"pass:{password}"]
    subprocess.run([*genrsa, "2048"], check=True, capture_output=True)
    req = [openssl, "req", "-new", "-x509", "-key", str(key), "-days", str(days)]
    req += ["-subj", f"/CN={name}/O=DICOM console tests", "-out", str(cert)]
    if password is not None:
        req += ["-passin", f"pass:{password}"]
    subprocess.run(req, check=True, capture_output=True)
    return key, cert
