"""C-MOVE (movescu): ask a remote AE to send instances to a destination AE title.

When the destination is one of the console's own listeners, the instances that arrive are
linked to the job once the move has ended: the listener answers each C-STORE only after
the instance is indexed, so by the final C-MOVE response every sub-operation that
succeeded is in the archive. The job takes the instances of the moved keys that arrived
through the network since it started and that no other job claimed (``source_job``), and
records one item per instance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from django.db.models import Q
from pydicom.dataset import Dataset

from archive.models import Instance, InstanceSource
from netjobs.dicom.associate import AssociationFailed, TlsSetupFailed, requested_association
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import (
    ApplicationEntity,
    ItemOutcome,
    Job,
    JobItem,
    Listener,
    LogLevel,
)
from netjobs.operations.common import calling_ae_title, remote_or_fail
from netjobs.operations.qr.dimse import (
    MESSAGE_ID,
    TRANSFER_SYNTAXES,
    Canceller,
    ServiceRejected,
    accepted_context_id,
)
from netjobs.operations.qr.information_models import MOVE_SOP_CLASSES
from netjobs.operations.qr.params import MoveParams
from netjobs.operations.qr.retrieve import (
    Follow,
    ProgressReporter,
    RetrieveSession,
    SubOperations,
    failure_items,
    follow,
    retrieve_outcome,
)

# Archive lookups for the unique keys of a retrieve identifier.
INSTANCE_LOOKUPS = {
    "PatientID": "series__study__patient__patient_id__in",
    "StudyInstanceUID": "series__study__study_instance_uid__in",
    "SeriesInstanceUID": "series__series_instance_uid__in",
    "SOPInstanceUID": "sop_instance_uid__in",
}
ITEM_BATCH = 500


def move(
    remote: ApplicationEntity,
    calling: str,
    identifier: Dataset,
    sop_class: str,
    destination: str,
    *,
    on_progress: Callable[[SubOperations], None],
    job: Job | None = None,
    cancel: threading.Event | None = None,
) -> RetrieveSession:
    """One C-MOVE on one association, followed to its final response. Raises
    AssociationFailed, ServiceRejected or TlsSetupFailed when it could not be sent."""
    with requested_association(remote=remote, calling_ae_title=calling, job=job,
                               contexts=[(sop_class, TRANSFER_SYNTAXES)]) as (assoc, recorder):
        context_id = accepted_context_id(assoc, recorder, sop_class, TRANSFER_SYNTAXES)
        how = Follow("C-MOVE", Canceller(assoc, recorder, context_id), cancel or threading.Event(),
                     on_progress, remote.dimse_timeout)
        responses = assoc.send_c_move(identifier, destination, sop_class, msg_id=MESSAGE_ID)
        return follow(assoc, recorder, responses, how)


def console_listeners(ae_title: str) -> list[Listener]:
    """The console's own listeners that store what is sent to ``ae_title``."""
    return list(Listener.objects.filter(ae_title=ae_title, storage=True))


def link_arrivals(job: Job, params: MoveParams, since: datetime) -> list[Instance]:
    """The moved instances that reached the archive since ``since``, now linked to the job."""
    arrived = Q(source=InstanceSource.DICOM, received_at__gte=since)
    for keyword, value in params.identifier_keys().items():
        arrived &= Q(**{INSTANCE_LOOKUPS[keyword]: value.split("\\")})
    # One statement claims them: of two moves of the same keys, each instance goes to one.
    Instance.objects.filter(arrived, source_job__isnull=True).update(source_job=job)
    return list(Instance.objects.filter(arrived, source_job=job).order_by("pk"))


def arrival_items(job: Job, instances: list[Instance], destination: str) -> list[JobItem]:
    return [JobItem(job=job, name=i.sop_instance_uid, sop_instance_uid=i.sop_instance_uid,
                    outcome=ItemOutcome.SUCCEEDED,
                    message=f"arrived in the archive through {destination} from "
                            f"{i.source_detail or 'the peer'}")
            for i in instances]


def run(ctx: JobContext, params: MoveParams) -> JobOutcome:
    remote = remote_or_fail(params.ae)
    calling = calling_ae_title(params.calling_ae)
    listeners = console_listeners(params.destination)
    since = ctx.job.started_at or ctx.job.created_at
    where = (f" (the console's listener {', '.join(li.name for li in listeners)})"
             if listeners else "")
    ctx.log(f"C-MOVE of the {params.target()} from {remote.ae_title} at {remote.host}:"
            f"{remote.port} to {params.destination}{where}, calling as {calling}.")
    progress = ProgressReporter(ctx)
    try:
        session = move(remote, calling, params.identifier(), MOVE_SOP_CLASSES[params.model],
                       params.destination, on_progress=progress, job=ctx.job,
                       cancel=ctx.cancel_event)
    except (AssociationFailed, ServiceRejected, TlsSetupFailed) as exc:
        raise JobFailed(str(exc)) from exc
    finally:
        progress.flush()
    items = failure_items(ctx.job, session)
    extra: dict[str, object] = {"destination": params.destination}
    if listeners:
        arrived = link_arrivals(ctx.job, params, since)
        items = arrival_items(ctx.job, arrived, params.destination) + items
        extra["arrived_in_archive"] = len(arrived)
        ctx.log(f"{len(arrived)} instance(s) arrived in the archive and are linked to this job.")
        if len(arrived) < session.counts.completed:
            ctx.log(f"The peer completed {session.counts.completed} sub-operations: the others "
                    "were already in the archive (a listener keeping the first copy does not "
                    "index them again) or went to another listener's AE title.",
                    LogLevel.WARNING)
    JobItem.objects.bulk_create(items, batch_size=ITEM_BATCH)
    status, result, error = retrieve_outcome(session, "C-MOVE", extra)
    return JobOutcome(status, result, error)

