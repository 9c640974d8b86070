"""The job page shows a store job's parameters as labelled fields (the AE by its title linked
to its page, the studies by their DICOM identity linked), its duration, sizes and DIMSE
statuses formatted, and never a Python or JSON repr."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from pydicom import dcmread

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from netjobs.jobs.services import create_job
from netjobs.models import JobStatus
from tests.archive_helpers import corpus
from tests.conftest import logged_in, wait_for_job
from tests.peers import dcmtk_storescp

pytestmark = pytest.mark.django_db(transaction=True)

FILES = ["MR2_UNCI.dcm", "emri_small.dcm"]  # two studies, uncompressed


def section(page: str, element_id: str) -> str:
    match = re.search(rf'<dl class="job-fields" id="{element_id}">(.*?)</dl>', page, re.S)
    assert match, f"no #{element_id} in the page"
    return match.group(1)


def field(html: str, key: str) -> str:
    match = re.search(rf'data-key="{key}"><dt>(.*?)</dt>\s*<dd>(.*?)</dd>', html, re.S)
    assert match, f"no field {key}"
    return f"{match.group(1)}|{match.group(2)}"


def decimal_size(size: int) -> str:
    """The size as storescu/dcmsend print it (decimal units), computed here independently."""
    for unit, scale in (("MB", 10**6), ("KB", 10**3)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size} bytes"


def test_a_store_job_of_two_studies_reads_as_labelled_fields(
    celery_worker_process: Path, operator: User, remote_ae: Any, tmp_path: Path
) -> None:
    for name in FILES:
        store_file(corpus(name), source=InstanceSource.PATH_IMPORT)
    studies = list(Study.objects.order_by("pk"))
    assert len(studies) == 2
    with dcmtk_storescp(tmp_path) as peer:
        ae = remote_ae(ae_title=peer.ae_title, port=peer.port)
        job = wait_for_job(create_job("store", {"ae": ae.pk, "studies": [s.pk for s in studies]},
                                      owner=operator), seconds=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    page = logged_in(operator).get(job.get_absolute_url()).content.decode()

    params = section(page, "job-parameters")
    assert "{'" not in params and "[" not in params and "&#x27;" not in params
    remote = field(params, "ae")
    assert remote.startswith("Remote AE|") and f'href="/aes/{ae.pk}/"' in remote
    assert f">{peer.ae_title}</a>" in remote
    studied = field(params, "studies")
    for study in studies:
        assert f'href="{study.get_absolute_url()}"' in studied
        assert study.title in studied
    description = str(dcmread(corpus("MR2_UNCI.dcm"), stop_before_pixels=True).StudyDescription)
    assert description in studied  # "SHOULDER", from the file itself
    assert "Parallel associations|" in field(params, "associations")

    # the result: sizes in decimal units, counts plain; the duration as "88 ms" / "1.23 s"
    result = section(page, "job-result")
    total = sum(Instance.objects.values_list("file_size", flat=True))
    assert decimal_size(total) in field(result, "bytes")
    assert "{'" not in result and "[" not in result
    duration = re.search(r'<span id="job-duration">(.*?)</span>', page, re.S)
    assert duration and re.fullmatch(r"\d+ ms|\d+\.\d+ s|\d+ min \d+ s", duration.group(1))
    # per-instance DIMSE statuses in hex with their meaning
    assert page.count('<code>0x0000</code>') >= len(FILES)
    # times: local date and time with a relative title
    assert re.search(r'<time datetime="[^"]+" title="(just now|\d+[^"]* ago)">'
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>", page)
