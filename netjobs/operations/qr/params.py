"""Parameters of the find, move and get jobs (the API and the forms validate the same), and
the identifiers they send."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydicom.dataset import Dataset

from archive.models import DuplicatePolicy
from netjobs.operations.common import local_ae_exists, remote_ae_exists
from netjobs.operations.qr.identifiers import (
    build_identifier,
    default_return_keys,
    parse_key,
    parse_keys,
    parse_matching,
)
from netjobs.operations.qr.information_models import (
    LEVEL_ORDER,
    RETRIEVE_MODELS,
    UNIQUE_KEYS,
    QueryLevel,
    QueryModel,
    check_level,
    keys_above,
    levels_of,
)
from netjobs.validators import normalize_ae_title, validate_ae_title

MAX_MATCHES = 5000
MAX_KEYS = 64
NOUNS: dict[QueryLevel, tuple[str, str]] = {
    QueryLevel.PATIENT: ("patient", "patients"), QueryLevel.STUDY: ("study", "studies"),
    QueryLevel.SERIES: ("series", "series"), QueryLevel.IMAGE: ("instance", "instances"),
}
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


class FindParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae: int = Field(description="ID of the remote AE to query")
    calling_ae: int | None = Field(
        default=None, description="ID of the local AE to call from (default: CONSOLE_AE_TITLE)")
    model: QueryModel = Field(default=QueryModel.STUDY_ROOT, description="Information model")
    level: QueryLevel | None = Field(
        default=None, description="Query/Retrieve Level (default STUDY; none for the worklist)")
    matching_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Keyword (or Sequence/Keyword) → value as typed: wildcards * and ?, "
                    "ranges like 20240101-20240131, lists separated by \\")
    return_keys: list[str] | None = Field(
        default=None, description="Keywords to return (default: the usual keys of the level)")
    max_matches: int = Field(default=MAX_MATCHES, ge=1, le=MAX_MATCHES,
                             description="Matches kept; the console sends C-CANCEL after them")

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)

    @field_validator("matching_keys")
    @classmethod
    def _known_matching_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_KEYS:
            raise ValueError(f"at most {MAX_KEYS} matching keys")
        return {path.text: text for path, text in parse_matching(value).items()}

    @field_validator("return_keys")
    @classmethod
    def _known_return_keys(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if len(value) > MAX_KEYS:
            raise ValueError(f"at most {MAX_KEYS} return keys")
        return list(dict.fromkeys(path.text for path in parse_keys(value)))

    @model_validator(mode="after")
    def _level_fits_the_model(self) -> FindParams:
        self.level = check_level(self.model, self.level)
        if self.level is not None:
            for key in keys_above(self.model, self.level):
                value = self.matching_keys.get(key, "")
                if not value or "\\" in value or "*" in value or "?" in value:
                    raise ValueError(
                        f"a {self.level.value} query in {self.model.label} needs {key} as one "
                        "value without wildcards (the unique key of a level above)")
        return self

    def effective_return_keys(self) -> list[str]:
        keys = self.return_keys if self.return_keys is not None else default_return_keys(
            self.model, self.level)
        if self.level is not None:
            keys = [*keys, UNIQUE_KEYS[self.level]]
        return [k for k in dict.fromkeys(keys) if k not in self.matching_keys]

    def identifier(self) -> Dataset:
        matching = {parse_key(k): v for k, v in self.matching_keys.items()}
        return build_identifier(self.level, matching, parse_keys(self.effective_return_keys()))


def _check_uids(value: str) -> str:
    """One UID or a list split by backslashes (UID list matching, PS3.4 C.2.2.2.2)."""
    value = value.strip()
    for uid in value.split("\\") if value else []:
        if len(uid) > 64 or not _UID.match(uid):
            raise ValueError(f"{uid!r} is not a valid UID (digits and dots, at most 64)")
    return value


class RetrieveParams(BaseModel):
    """What a C-MOVE or C-GET retrieves: the level and the unique keys down to it."""

    model_config = ConfigDict(extra="forbid")

    ae: int = Field(description="ID of the remote AE to retrieve from")
    calling_ae: int | None = Field(
        default=None, description="ID of the local AE to call from (default: CONSOLE_AE_TITLE)")
    model: QueryModel = Field(default=QueryModel.STUDY_ROOT,
                              description="patient_root or study_root")
    level: QueryLevel = Field(default=QueryLevel.STUDY, description="Query/Retrieve Level")
    patient_id: str = Field(default="", max_length=64, description="Patient ID")
    study_instance_uid: str = Field(default="", description="One UID, or several split by \\")
    series_instance_uid: str = Field(default="", description="One UID, or several split by \\")
    sop_instance_uid: str = Field(default="", description="One UID, or several split by \\")

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)

    @field_validator("patient_id")
    @classmethod
    def _plain_patient_id(cls, value: str) -> str:
        value = value.strip()
        if any(c in value for c in "*?\\") or any(ord(c) < 0x20 for c in value):
            raise ValueError("a Patient ID to retrieve is one value, without wildcards")
        return value

    @field_validator("study_instance_uid", "series_instance_uid", "sop_instance_uid")
    @classmethod
    def _valid_uids(cls, value: str) -> str:
        return _check_uids(value)

    @model_validator(mode="after")
    def _keys_fit_the_level(self) -> RetrieveParams:
        if self.model not in RETRIEVE_MODELS:
            raise ValueError(f"{self.model.label} has no retrieve; use Patient or Study Root")
        check_level(self.model, self.level)
        keys = self.keys()
        if self.model is QueryModel.STUDY_ROOT and keys["PatientID"]:
            raise ValueError("the Study Root has no patient level: retrieve by Study "
                             "Instance UID, or use the Patient Root with a Patient ID")
        for keyword in keys_above(self.model, self.level):
            if not keys[keyword] or "\\" in keys[keyword]:
                raise ValueError(f"a {self.level.value} retrieve in {self.model.label} needs "
                                 f"one {keyword} (the unique key of a level above)")
        if not keys[UNIQUE_KEYS[self.level]]:
            raise ValueError(f"a {self.level.value} retrieve needs {UNIQUE_KEYS[self.level]}")
        below = LEVEL_ORDER[LEVEL_ORDER.index(self.level) + 1:]
        extra = [UNIQUE_KEYS[level] for level in below if keys[UNIQUE_KEYS[level]]]
        if extra:
            raise ValueError(f"{', '.join(extra)} is below the {self.level.value} level; "
                             "choose a lower level to retrieve by it")
        return self

    def keys(self) -> dict[str, str]:
        return {"PatientID": self.patient_id, "StudyInstanceUID": self.study_instance_uid,
                "SeriesInstanceUID": self.series_instance_uid,
                "SOPInstanceUID": self.sop_instance_uid}

    def identifier_keys(self) -> dict[str, str]:
        """The keys the identifier carries: the unique keys at and above the level."""
        levels = levels_of(self.model)
        keys = self.keys()
        return {UNIQUE_KEYS[level]: keys[UNIQUE_KEYS[level]]
                for level in levels[: levels.index(self.level) + 1]
                if keys[UNIQUE_KEYS[level]]}

    def identifier(self) -> Dataset:
        identifier = Dataset()
        identifier.QueryRetrieveLevel = self.level.value
        for keyword, value in self.identifier_keys().items():
            setattr(identifier, keyword, value.split("\\") if "\\" in value else value)
        return identifier

    def target(self) -> str:
        """The retrieved thing in words, for summaries."""
        value = self.keys()[UNIQUE_KEYS[self.level]]
        one, many = NOUNS[self.level]
        count = value.count("\\") + 1
        return f"{count} {many}" if count > 1 else f"{one} {value}"


def _check_destination(value: str) -> str:
    try:
        validate_ae_title(value)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None
    return normalize_ae_title(value)


class MoveParams(RetrieveParams):
    destination: str = Field(description="Move destination AE title (e.g. a console listener)")

    _check_destination = field_validator("destination")(_check_destination)


class GetParams(RetrieveParams):
    duplicates: DuplicatePolicy = Field(
        default=DuplicatePolicy.KEEP_FIRST,
        description="What to do with an instance whose SOP Instance UID is in the archive")
