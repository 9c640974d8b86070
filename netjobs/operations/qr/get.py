"""C-GET (getscu): retrieve instances into the archive on the job's own association.

The association proposes the Get model plus the storage SOP classes with the SCP role
(PS3.7 D.3.3.4); the peer's C-STORE sub-operations arrive on that association and are
handled in the job's thread, while pynetdicom iterates the C-GET responses: each instance
is archived as the console's Storage SCP does it (``store_instance``), linked to the job,
and answered with the status that says how it went.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import StoragePresentationContexts, build_role, evt
from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation

from archive.models import DuplicatePolicy, Instance
from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.dicom.status import DimseStatus, StatusCategory, describe_status
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.listeners.handlers import StoreSettings, store_instance
from netjobs.models import ApplicationEntity, ItemOutcome, Job, JobItem
from netjobs.operations.common import calling_ae_title, remote_or_fail
from netjobs.operations.qr.dimse import (
    MESSAGE_ID,
    TRANSFER_SYNTAXES,
    Canceller,
    CancelReason,
    ServiceRejected,
    accepted_context_id,
)
from netjobs.operations.qr.information_models import GET_SOP_CLASSES
from netjobs.operations.qr.params import GetParams
from netjobs.operations.qr.retrieve import (
    Follow,
    ProgressReporter,
    RetrieveSession,
    SubOperations,
    failure_items,
    follow,
    retrieve_outcome,
)

MAX_CONTEXTS = 128  # PS3.8: odd presentation context IDs 1..255
ITEMS_EVERY = 1.0  # seconds between writes of received items


def storage_sop_classes() -> list[str]:
    """The storage SOP classes a C-GET offers to receive (pynetdicom's usual set, as many as
    fit beside the Get context)."""
    uids = dict.fromkeys(str(cx.abstract_syntax) for cx in StoragePresentationContexts)
    return list(uids)[: MAX_CONTEXTS - 1]


def role_selections(sop_classes: list[str]) -> list[SCP_SCU_RoleSelectionNegotiation]:
    """SCP/SCU Role Selection items: the console is the Storage SCP on its own C-GET."""
    return [build_role(uid, scp_role=True) for uid in sop_classes]


@dataclass(frozen=True)
class Received:
    sop_instance_uid: str
    sop_class_uid: str
    status: int


@dataclass
class Receiver:
    """The EVT_C_STORE handler of a C-GET association: archives each instance."""

    remote_ae_title: str
    settings: StoreSettings
    cancel: threading.Event
    canceller: Canceller | None = None
    received: list[Received] = field(default_factory=list)

    def on_c_store(self, event: Any) -> int:
        request = event.request
        status = store_instance(event.encoded_dataset(), str(event.context.abstract_syntax),
                                self.remote_ae_title, self.settings)
        self.received.append(Received(str(request.AffectedSOPInstanceUID or ""),
                                      str(request.AffectedSOPClassUID or ""), int(status)))
        if self.cancel.is_set() and self.canceller is not None:
            self.canceller.send(CancelReason.OPERATOR)
        return status


class ReceivedItems:
    """Writes an item per received instance, in batches between responses."""

    def __init__(self, job: Job, receiver: Receiver) -> None:
        self.job = job
        self.receiver = receiver
        self.written = 0
        self.counts = {"stored": 0, "duplicates_kept": 0, "store_failures": 0}
        self._written_at = time.monotonic()

    def maybe_flush(self) -> None:
        if time.monotonic() - self._written_at >= ITEMS_EVERY:
            self.flush()

    def flush(self) -> None:
        self._written_at = time.monotonic()
        batch = self.receiver.received[self.written:]
        if not batch:
            return
        self.written += len(batch)
        linked = set(Instance.objects.filter(
            source_job=self.job, sop_instance_uid__in=[r.sop_instance_uid for r in batch],
        ).values_list("sop_instance_uid", flat=True))
        JobItem.objects.bulk_create([self._item(r, r.sop_instance_uid in linked)
                                     for r in batch])

    def _item(self, received: Received, linked: bool) -> JobItem:
        item = JobItem(job=self.job, name=received.sop_instance_uid, status=received.status,
                       sop_instance_uid=received.sop_instance_uid[:64])
        info = describe_status(received.status, "C-STORE")
        if info.category in (StatusCategory.SUCCESS, StatusCategory.WARNING) and linked:
            item.outcome, item.message = ItemOutcome.SUCCEEDED, "stored in the archive"
            self.counts["stored"] += 1
        elif received.status == DimseStatus.SUCCESS:
            item.outcome = ItemOutcome.SKIPPED
            item.message = "already in the archive: the first copy is kept"
            self.counts["duplicates_kept"] += 1
        else:
            item.outcome, item.message = ItemOutcome.FAILED, f"not archived: answered {info}"
            self.counts["store_failures"] += 1
        return item


def get(
    remote: ApplicationEntity,
    calling: str,
    identifier: Dataset,
    sop_class: str,
    receiver: Receiver,
    *,
    on_progress: Callable[[SubOperations], None],
    job: Job | None = None,
) -> RetrieveSession:
    """One C-GET on one association, its instances archived by ``receiver``. Raises
    AssociationFailed, ServiceRejected or TlsSetupFailed when it could not be sent."""
    storage = storage_sop_classes()
    contexts = [(sop_class, TRANSFER_SYNTAXES),
                *[(uid, TRANSFER_SYNTAXES) for uid in storage]]
    with requested_association(remote=remote, calling_ae_title=calling, job=job,
                               contexts=contexts, ext_neg=list(role_selections(storage)),
                               evt_handlers=[(evt.EVT_C_STORE, receiver.on_c_store)],
                               ) as (assoc, recorder):
        context_id = accepted_context_id(assoc, recorder, sop_class, TRANSFER_SYNTAXES)
        receiver.canceller = Canceller(assoc, recorder, context_id)
        how = Follow("C-GET", receiver.canceller, receiver.cancel, on_progress,
                     remote.dimse_timeout)
        responses = assoc.send_c_get(identifier, sop_class, msg_id=MESSAGE_ID)
        return follow(assoc, recorder, responses, how)


def run(ctx: JobContext, params: GetParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    ctx.log(f"C-GET of the {params.target()} from {remote.ae_title} at {remote.host}:"
            f"{remote.port} into the archive, calling as {calling}; duplicates: "
            f"{DuplicatePolicy(params.duplicates).label.lower()}.")
    receiver = Receiver(remote.ae_title, StoreSettings(listener_id=0, job=ctx.job,
                                                       duplicate_policy=params.duplicates),
                        ctx.cancel_event)
    items = ReceivedItems(ctx.job, receiver)
    progress = ProgressReporter(ctx)

    def on_progress(counts: SubOperations) -> None:
        progress(counts)
        items.maybe_flush()

    try:
        session = get(remote, calling, params.identifier(), GET_SOP_CLASSES[params.model],
                      receiver, on_progress=on_progress, job=ctx.job)
    except (AssociationFailed, ServiceRejected, TlsSetupFailed) as exc:
        raise JobFailed(str(exc)) from exc
    finally:
        progress.flush()
        items.flush()
    received = {r.sop_instance_uid for r in receiver.received}
    JobItem.objects.bulk_create([item for item in failure_items(ctx.job, session)
                                 if item.sop_instance_uid not in received])
    extra = {"received": len(receiver.received), **items.counts}
    ctx.log(f"{items.counts['stored']} instance(s) stored in the archive and linked to this "
            f"job; {items.counts['duplicates_kept']} already there; "
            f"{items.counts['store_failures']} not archived.")
    status, result, error = retrieve_outcome(session, "C-GET", extra)
    return JobOutcome(status, result, error)

