"""Cancel reaches a peer that sends nothing back for a while (pending responses are
optional for C-MOVE; a C-FIND SCP may think long before its first match): C-CANCEL goes at
once, and a peer that never finishes is aborted after a grace period."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
)

from netjobs.jobs.services import create_job
from netjobs.models import AbortSource, DimseMessage, Job, JobStatus
from tests.conftest import logged_in, wait_for_job
from tests.peers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def silent_find_scp(honour_cancel: bool
                    ) -> tuple[AE, Any, int, threading.Event, threading.Event]:
    """A C-FIND SCP that thinks for 30 s before answering (checking for a cancel if told
    to honour it)."""
    cancel_seen, find_received = threading.Event(), threading.Event()

    def on_find(event: Any) -> Iterator[tuple[int, None]]:
        find_received.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if event.is_cancelled:
                cancel_seen.set()
                if honour_cancel:
                    yield 0xFE00, None
                    return
            time.sleep(0.05)
        yield 0x0000, None

    ae = AE(ae_title="THINKER")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False,
                             evt_handlers=[(evt.EVT_C_FIND, on_find)])
    return ae, server, port, cancel_seen, find_received


@pytest.mark.parametrize("honour_cancel", [True, False])
def test_cancel_while_the_peer_is_silent(celery_worker_process: Path, operator: User,
                                         remote_ae: Any, honour_cancel: bool) -> None:
    _, server, port, cancel_seen, find_received = silent_find_scp(honour_cancel)
    try:
        ae = remote_ae(ae_title="THINKER", port=port, dimse_timeout=60)
        job = create_job("find", {"ae": ae.pk}, owner=operator)
        assert find_received.wait(30)  # the C-FIND is out; no response comes
        started = time.monotonic()
        assert logged_in(operator).post(f"/api/jobs/{job.pk}/cancel").status_code == 200
        job = wait_for_job(job, 25)
        took = time.monotonic() - started
    finally:
        server.shutdown()
    assert cancel_seen.is_set()
    assert job.status == JobStatus.CANCELLED, (job.status, job.error)
    assert took < (5 if honour_cancel else 20)  # at once, or after the grace period
    assert DimseMessage.objects.filter(association__job=job, command="C-CANCEL-RQ",
                                       direction="sent").count() == 1
    if not honour_cancel:  # our abort, with its reason, not a lost connection
        record = Job.objects.get(pk=job.pk).associations.get()
        assert (record.outcome, record.abort_source) == ("aborted", AbortSource.LOCAL)
        assert "no final response within 10 s after the C-CANCEL" in record.explanation
