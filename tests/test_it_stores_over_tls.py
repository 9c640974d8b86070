"""A store job over TLS (PS3.15 Annex B) to DCMTK storescp +tls: the files go as stored,
written through the TLS socket, and the peer keeps exactly the data set bytes of each."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from archive.storage import absolute_path
from netjobs.jobs.services import create_job
from netjobs.models import Association, ItemOutcome, JobStatus
from tests.conftest import wait_for_job
from tests.peers import _running, free_port, require_tool
from tests.test_it_runs_store_jobs import (
    COMPRESSED_FILES,
    UNCOMPRESSED_FILES,
    archived,
    data_set,
    received,
    study_ids,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tls_storescp_keeping_bytes(pki: Path, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port, out = free_port(), tmp_path / "in"
    out.mkdir()
    argv = [require_tool("storescp"), "+xa", "+B", "-aet", "TLSSCP", "-od", str(out), "+tls",
            str(pki / "server.key"), str(pki / "server.pem"), "-ic", str(port)]
    with _running(argv, "TLSSCP", port, tmp_path / "tls-storescp.log"):
        yield port, out


def test_a_study_goes_over_tls_byte_for_byte(
        celery_worker_process: Path, operator: User, remote_ae: Any, pki: Path,
        tls_storescp_keeping_bytes: tuple[int, Path]) -> None:
    port, out = tls_storescp_keeping_bytes
    instances = archived(UNCOMPRESSED_FILES + COMPRESSED_FILES[:2])
    ae = remote_ae(ae_title="TLSSCP", port=port, tls_enabled=True,
                   tls_ca_file=str(pki / "ca.pem"))
    job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": study_ids(instances)},
                                  owner=operator), seconds=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert set(job.items.values_list("outcome", flat=True)) == {ItemOutcome.SUCCEEDED}
    got = received(out)
    assert set(got) == {i.sop_instance_uid for i in instances}
    for instance in instances:
        assert data_set(got[instance.sop_instance_uid].read_bytes()) == data_set(
            absolute_path(instance.file_path).read_bytes()), instance.transfer_syntax_uid
    record = Association.objects.get(job=job)
    assert record.tls and record.outcome == "released"
    assert record.dimse_messages.filter(command="C-STORE-RSP", status=0).count() == len(
        instances)
