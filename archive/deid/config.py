"""What one de-identification is asked to do, and what it reports for every attribute it
touched: the shared vocabulary of the engine, the preview and the job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from archive.deid.dumb import DumbRules
from archive.deid.phi import PhiValue
from archive.deid.profile import ActionCode, ProfileOption
from archive.deid.uids import keyed_digest


class DeidRefused(Exception):
    """This file cannot be de-identified (it cannot be read, or holds a value no rule
    covers): the message says why, and nothing of it is released."""


@dataclass(frozen=True)
class Pseudonym:
    """What replaces a patient's name and ID in every file of that patient."""

    patient_id: str
    patient_name: str


@dataclass(frozen=True)
class SafePrivate:
    """A private data element known to hold no identifying information (PS3.15 E.3.10): its
    private creator, its (odd) group and the low byte of its element number."""

    creator: str
    group: int
    element: int

    @property
    def label(self) -> str:
        return f'"{self.creator}" ({self.group:04X},xx{self.element:02X})'


PseudonymSource = Callable[[str, str], Pseudonym]


def derived_pseudonym(project_key: bytes, prefix: str = "ANON", attempt: int = 0
                      ) -> PseudonymSource:
    """A pseudonym computed from the project key and the original ID, for a patient the
    project's mapping table does not list (``attempt`` > 0: another one, after a clash)."""
    def pseudonym(patient_id: str, patient_name: str) -> Pseudonym:
        salt = f"#{attempt}" if attempt else ""
        digest = keyed_digest(project_key, "pseudonym", patient_id.strip() + salt)
        code = int.from_bytes(digest[:6], "big") % 10**10
        return Pseudonym(patient_id=f"{prefix}{code:010d}",
                         patient_name=f"{prefix}^{code:010d}")
    return pseudonym


@dataclass(frozen=True)
class DeidConfig:
    """A profile with its options (or dumb-mode rules), and the project it works for."""

    options: frozenset[ProfileOption] = frozenset()
    project_key: bytes = b""  # replacement UIDs, date offsets and pseudonyms derive from it
    safe_private: tuple[SafePrivate, ...] = ()  # kept under the Retain Safe Private Option
    dumb: DumbRules | None = None  # dumb mode: only these rules, no profile
    certificate_pem: bytes | None = None  # reversible: the replaced values go into (0400,0500)
    pseudonym: PseudonymSource | None = None  # default: derived_pseudonym(project_key)
    hold_back_burned_in: bool = True  # files that may show burned-in text wait for review

    def pseudonym_for(self, patient_id: str, patient_name: str) -> Pseudonym:
        source = self.pseudonym or derived_pseudonym(self.project_key)
        return source(patient_id, patient_name)


@dataclass(frozen=True)
class AttributeChange:
    """One attribute the de-identification changed, with the rule that changed it."""

    path: str  # e.g. "(0008,1115)[0] > (0008,1155)"
    tag: int
    keyword: str
    action: str  # the PS3.15 action code applied (D, Z, X, K, C, U) or a dumb-mode action
    reason: str  # "Basic Profile", an option's name, "pseudonym", "added"…
    before: str
    after: str

    @property
    def removed(self) -> bool:
        return self.action == ActionCode.X


@dataclass
class Deidentified:
    """The de-identified data set, what changed, and whether the file must wait for review."""

    dataset: Dataset
    changes: list[AttributeChange] = field(default_factory=list)
    held_back: str = ""  # why the file is held for review (burned-in annotation), or ""
    warnings: list[str] = field(default_factory=list)
    phi: list[PhiValue] = field(default_factory=list)  # the input's identifying values
    retained_uids: frozenset[str] = frozenset()  # UIDs kept as they were (Retain UIDs)
