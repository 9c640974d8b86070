"""The parameters of the ``deidentify`` and ``reidentify`` kinds, as the forms and
``POST /api/jobs`` give them."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from pydantic import Field, field_validator, model_validator

from archive.conversions.jobs.params import ConversionParams, OutputKind
from archive.deid.dumb import DumbRuleRefused, parse_rules
from archive.deid.keys import (
    CertificateRefused,
    ReidentifyFailed,
    load_certificate,
    load_private_key,
)
from archive.deid.models import DeidProject
from archive.deid.profile import ProfileOption
from netjobs.operations.common import remote_ae_exists

KEY_PREFIX = "key:"
EXCLUSIVE_DATES = {ProfileOption.RETAIN_FULL_DATES, ProfileOption.RETAIN_MODIFIED_DATES}


def project_exists(name: str) -> str:
    if not DeidProject.objects.filter(name=name).exists():
        raise ValueError(f"there is no de-identification project {name!r} (an Administrator "
                         "creates projects on the De-identification page)")
    return name


class DeidentifyParams(ConversionParams):
    project: str = Field(description="The de-identification project (its key keeps UIDs, "
                                     "dates and pseudonyms consistent across jobs)")
    options: list[ProfileOption] = Field(default_factory=list,
                                         description="PS3.15 Annex E options to apply")
    reversible: bool = Field(default=False, description="Keep the replaced values encrypted "
                                                        "for the project's certificate")
    dumb: bool = Field(default=False, description="Dumb mode: only the empty/remove/replace "
                                                  "lists, no profile (gdcmanon --dumb)")
    empty: list[str] = Field(default_factory=list, description="Dumb mode: tags to empty")
    remove: list[str] = Field(default_factory=list, description="Dumb mode: tags to remove")
    replace: list[str] = Field(default_factory=list,
                               description='Dumb mode: "tag,value" to replace')
    hold_back: bool = Field(default=True, description="Hold back files that may show "
                                                      "burned-in text, for review")
    send_to: int | None = Field(default=None, description="Also send the released files to "
                                                          "this remote AE (a store job)")

    _check_project = field_validator("project")(project_exists)
    _check_send_to = field_validator("send_to")(
        lambda value: None if value is None else remote_ae_exists(value))

    @model_validator(mode="after")
    def _coherent(self) -> DeidentifyParams:
        self.options = sorted(set(self.options), key=list(ProfileOption).index)
        if set(self.options) >= EXCLUSIVE_DATES:
            raise ValueError("retain full dates or modified dates, not both")
        if self.dumb:
            if self.options or self.reversible:
                raise ValueError("dumb mode applies only its own lists: no profile options, "
                                 "no encryption")
            if not (self.empty or self.remove or self.replace):
                raise ValueError("dumb mode needs at least one tag to empty, remove or replace")
            try:
                parse_rules(self.empty, self.remove, self.replace)
            except DumbRuleRefused as exc:
                raise ValueError(str(exc)) from None
        elif self.empty or self.remove or self.replace:
            raise ValueError("empty/remove/replace lists are for dumb mode (\"dumb\": true)")
        if ProfileOption.RETAIN_UIDS in self.options and self.output == OutputKind.ARCHIVE:
            raise ValueError("Retain UIDs keeps the SOP Instance UIDs: the de-identified "
                             "copies cannot join the archive that holds (or may hold) the "
                             "originals; choose a ZIP or an export folder")
        if self.reversible:
            project = DeidProject.objects.filter(name=self.project).first()
            if project is None or not project.certificate_pem.strip():
                raise ValueError(f"project {self.project!r} has no certificate: an "
                                 "Administrator adds one before a reversible job")
            try:
                load_certificate(project.certificate_pem.encode())
            except CertificateRefused as exc:
                raise ValueError(f"the certificate of {self.project!r}: {exc}") from None
        return self


def key_folder() -> Path:
    return Path(settings.VAR_DIR) / "deid-keys"


def key_file(reference: str) -> Path | None:
    name = reference.removeprefix(KEY_PREFIX)
    if not reference.startswith(KEY_PREFIX) or not name.isalnum():
        return None
    path = key_folder() / f"{name}.pem"
    return path if path.is_file() else None


def store_private_key(value: str, password: str | None = None) -> str:
    """A PEM private key given with the job is kept only as a file readable by the console
    (removed when the job ends); the job's parameters hold a reference to it. A key with a
    password is opened here and kept without it, so no password is ever stored."""
    if value.startswith(KEY_PREFIX):  # a job's own reference, while the job runs
        if key_file(value) is None:
            raise ValueError("the private key of this job is gone (a job keeps it only "
                             "while it runs): give it again")
        return value
    if "PRIVATE KEY-----" not in value:
        raise ValueError("the private key must be PEM text (-----BEGIN … PRIVATE KEY-----)")
    try:
        key = load_private_key(value.encode("ascii", "replace"),
                               password.encode() if password else None)
    except ReidentifyFailed as exc:
        raise ValueError(str(exc)) from None
    plain = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    folder = key_folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = secrets.token_hex(16)
    path = folder / f"{name}.pem"
    path.touch(mode=0o600)
    path.write_bytes(plain)
    return f"{KEY_PREFIX}{name}"


class ReidentifyParams(ConversionParams):
    private_key: str = Field(description="The private key (PEM) of the project's certificate; "
                                         "it is not stored with the job")
    password: str | None = Field(default=None, description="The key's password, if any: used "
                                 "to open the key when the job is given, never stored")

    @model_validator(mode="after")
    def _key_kept_apart(self) -> ReidentifyParams:
        self.private_key = store_private_key(self.private_key, self.password)
        self.password = None
        return self
