"""What a storage commitment job asks about: its parameters and the instances they select
(an archive study, archived SOP Instance UIDs, or what a store job sent)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from archive.models import Instance
from netjobs.jobs.base import JobFailed
from netjobs.models import ItemOutcome, Job, JobItem
from netjobs.operations.common import local_ae_exists, remote_ae_exists
from netjobs.operations.ian.archived import StudyMissing, archived_study, study_with_instances
from netjobs.operations.ian.nservice import is_valid_uid

MAX_INSTANCES = 10000
LOOKUP_CHUNK = 500
STORE_KINDS_OUTCOMES = (ItemOutcome.SUCCEEDED, ItemOutcome.WARNING)  # stored (warning: coerced)


class ReportOn(StrEnum):
    """Where the console expects the N-EVENT-REPORT."""

    EITHER = "either"  # keep the association open with the SCP role; a listener may get it
    SAME_ASSOCIATION = "same_association"
    LISTENER = "listener"  # release at once; the report comes on a new association


REPORT_ON_LABELS = {
    ReportOn.EITHER: "On the request's association or at a listener, whichever comes",
    ReportOn.SAME_ASSOCIATION: "On the request's association only",
    ReportOn.LISTENER: "At a console listener (new association) only",
}


# --- parameters ---------------------------------------------------------------------------
def _valid_uids(values: list[str]) -> list[str]:
    bad = [v for v in values if not is_valid_uid(v)]
    if bad:
        raise ValueError(f"not valid UIDs: {', '.join(bad[:5])}")
    return list(dict.fromkeys(values))


def _archived_uids(values: list[str]) -> list[str]:
    found = set(archived_classes(values))
    missing = [v for v in values if v not in found]
    if missing:
        raise ValueError(f"{len(missing)} SOP Instance UID(s) are not in the archive, e.g. "
                         f"{missing[0]}")
    return values


class CommitmentParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae: int = Field(description="ID of the remote AE (the Storage Commitment SCP)")
    calling_ae: int | None = Field(
        default=None, description="ID of the local AE to call from (default: CONSOLE_AE_TITLE)")
    study: int | None = Field(default=None, description="ID of an archive study: its instances")
    sop_instance_uids: list[str] = Field(
        default_factory=list, max_length=MAX_INSTANCES,
        description="SOP Instance UIDs of archived instances")
    store_job: int | None = Field(
        default=None, description="ID of a store job: the instances it sent successfully")
    report_on: ReportOn = Field(default=ReportOn.EITHER)
    timeout: float = Field(default=60.0, ge=1.0, le=3600.0,
                           description="Seconds to wait for the N-EVENT-REPORT")

    _check_ae = field_validator("ae")(remote_ae_exists)
    _check_calling = field_validator("calling_ae")(local_ae_exists)

    @field_validator("study")
    @classmethod
    def _study_archived(cls, value: int | None) -> int | None:
        return None if value is None else study_with_instances(value)

    @field_validator("sop_instance_uids")
    @classmethod
    def _uids_archived(cls, value: list[str]) -> list[str]:
        return _archived_uids(_valid_uids(value))

    @field_validator("store_job")
    @classmethod
    def _store_job_exists(cls, value: int | None) -> int | None:
        if value is not None and not Job.objects.filter(pk=value).exists():
            raise ValueError(f"there is no job with id {value}")
        if value is not None:
            sent = JobItem.objects.filter(job_id=value, outcome__in=STORE_KINDS_OUTCOMES) \
                .exclude(sop_instance_uid="").count()
            if sent > MAX_INSTANCES:  # one N-ACTION holds them all: keep it a sane size
                raise ValueError(f"job {value} stored {sent} instances; a request covers at "
                                 f"most {MAX_INSTANCES}: ask for its studies one by one")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> CommitmentParams:
        sources = [self.study is not None, bool(self.sop_instance_uids),
                   self.store_job is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of: a study, SOP Instance UIDs, a store job")
        return self


# --- the instances ------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    sop_class_uid: str
    sop_instance_uid: str


@dataclass(frozen=True)
class Selection:
    references: list[Reference]
    unknown: list[str]  # SOP Instance UIDs the archive does not have (class unknown)
    source: str  # for the log and the summary


def archived_classes(uids: Iterable[str]) -> dict[str, str]:
    """SOP Instance UID → SOP Class UID of the archived ones."""
    unique = sorted(set(uids))
    found: dict[str, str] = {}
    for start in range(0, len(unique), LOOKUP_CHUNK):
        found.update(Instance.objects.filter(
            sop_instance_uid__in=unique[start:start + LOOKUP_CHUNK]).values_list(
            "sop_instance_uid", "sop_class_uid"))
    return found


def instances_sent_by(store_job: int) -> list[str]:
    """The SOP Instance UIDs a store job stored on its peer (success or warning)."""
    uids = (JobItem.objects.filter(job_id=store_job, outcome__in=STORE_KINDS_OUTCOMES)
            .exclude(sop_instance_uid="").order_by("pk")
            .values_list("sop_instance_uid", flat=True))
    return list(dict.fromkeys(uids))


def from_archive(uids: list[str], source: str) -> Selection:
    classes = archived_classes(uids)
    return Selection([Reference(classes[u], u) for u in uids if u in classes],
                     [u for u in uids if u not in classes], source)


def selection(params: CommitmentParams) -> Selection:
    if params.study is not None:
        try:
            study = archived_study(params.study)
        except StudyMissing as exc:
            raise JobFailed(str(exc)) from exc
        return Selection([Reference(i.sop_class_uid, i.sop_instance_uid)
                          for i in study.instances], [], str(study))
    if params.store_job is not None:
        return from_archive(instances_sent_by(params.store_job),
                            f"the instances sent by job {params.store_job}")
    return from_archive(params.sop_instance_uids,
                        f"{len(params.sop_instance_uids)} chosen instance(s)")
