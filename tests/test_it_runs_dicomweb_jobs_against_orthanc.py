"""The console's DICOMweb jobs against another implementation: Debian's Orthanc with its
DICOMweb plugin on loopback. A stow of archive studies arrives in Orthanc byte for byte (its
REST API gives the files back), a qido finds what Orthanc holds, a wado brings Orthanc's
files into the archive unchanged, and the check passes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pydicom import dcmread

from archive.indexing import delete_studies, store_file
from archive.models import Instance, InstanceSource, Study
from archive.storage import absolute_path
from console.tokens import issue_token
from netjobs.models import DicomwebEndpoint, ItemOutcome, Job, JobStatus
from tests.archive_helpers import corpus
from tests.conftest import wait_for_job
from tests.peers import OrthancPeer, orthanc

pytestmark = pytest.mark.django_db(transaction=True)

FILES = ["693_UNCI.dcm", "693_J2KR.dcm", "MR2_UNCI.dcm"]


def run(user: User, kind: str, params: dict[str, Any], seconds: float = 120) -> Job:
    client = Client(headers={"Authorization": f"Bearer {issue_token(user, 't').raw}"})
    response = client.post("/api/jobs", {"kind": kind, "params": params},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return wait_for_job(Job.objects.get(pk=response.json()["id"]), seconds)


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[OrthancPeer]:
    with orthanc(tmp_path, {}, dicomweb=True) as running:
        yield running


@pytest.fixture
def endpoint(peer: OrthancPeer) -> DicomwebEndpoint:
    return DicomwebEndpoint.objects.create(name="orthanc", base_url=peer.dicomweb_url)


def orthanc_files(peer: OrthancPeer) -> dict[str, bytes]:
    """SOP Instance UID → the file Orthanc holds."""
    found = {}
    for instance_id in peer.rest("GET", "/instances"):
        tags = peer.rest("GET", f"/instances/{instance_id}/simplified-tags")
        found[tags["SOPInstanceUID"]] = peer.instance_file(instance_id)
    return found


def test_stow_qido_and_wado_with_orthanc(celery_worker_process: Path, operator: User,
                                         peer: OrthancPeer,
                                         endpoint: DicomwebEndpoint) -> None:
    stored = [store_file(corpus(name), source=InstanceSource.UPLOAD).instance for name in FILES]
    studies = sorted({i.series.study_id for i in stored})
    sent = run(operator, "stow", {"endpoint": endpoint.pk, "studies": studies,
                                  "batch_size": 2})
    assert sent.status == JobStatus.SUCCEEDED, sent.error
    assert set(sent.items.values_list("outcome", flat=True)) == {ItemOutcome.SUCCEEDED}
    held = orthanc_files(peer)
    assert held.keys() == {i.sop_instance_uid for i in stored}
    for instance in stored:
        ours = dcmread(absolute_path(instance.file_path))
        theirs = dcmread(BytesIO(held[instance.sop_instance_uid]))
        assert theirs.PixelData == ours.PixelData  # Orthanc keeps what it is sent

    searched = run(operator, "qido", {"endpoint": endpoint.pk, "level": "instances",
                                      "study": stored[0].series.study.study_instance_uid})
    assert searched.status == JobStatus.SUCCEEDED, searched.error
    expected = {i.sop_instance_uid for i in stored
                if i.series.study_id == stored[0].series.study_id}
    assert set(searched.items.values_list("name", flat=True)) == expected
    match = json.loads(searched.items.first().message)  # type: ignore[union-attr]
    assert match["0020000D"]["Value"] == [stored[0].series.study.study_instance_uid]

    check = run(operator, "dicomweb_check", {"endpoint": endpoint.pk})
    assert check.status == JobStatus.SUCCEEDED, check.error

    uid = stored[0].series.study.study_instance_uid
    delete_studies(list(Study.objects.filter(study_instance_uid=uid)))
    retrieved = run(operator, "wado", {"endpoint": endpoint.pk, "study": uid})
    assert retrieved.status == JobStatus.SUCCEEDED, retrieved.error
    back = Instance.objects.filter(series__study__study_instance_uid=uid)
    assert {i.sop_instance_uid for i in back} == expected
    for instance in back:
        assert instance.source == InstanceSource.DICOMWEB
        assert absolute_path(instance.file_path).read_bytes() == held[instance.sop_instance_uid]
