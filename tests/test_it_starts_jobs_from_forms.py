"""Every job kind with a form can be started from /jobs/new/<kind>/; the job page and the
API give the equivalent DCMTK and dcm4che command lines."""

from typing import Any

import pytest
from django.contrib.auth.models import User

from netjobs.models import Job
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


def test_an_operator_starts_an_echo_from_its_form(operator: User, remote_ae: Any,
                                                  django_capture_on_commit_callbacks: Any
                                                  ) -> None:
    ae = remote_ae(ae_title="PACS", port=11112)
    client = logged_in(operator)
    index = client.get("/jobs/new/").content.decode()
    assert '/jobs/new/echo/' in index
    refused = client.post("/jobs/new/echo/", {"ae": ae.pk, "repeat": 0})
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.content.decode()
    assert not Job.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post("/jobs/new/echo/", {"ae": ae.pk, "repeat": 3, "interval": ""})
    job = Job.objects.get()
    assert started.status_code == 302 and started["Location"] == job.get_absolute_url()
    assert job.params["repeat"] == 3 and job.params["ae"] == ae.pk
    page = client.get(job.get_absolute_url()).content.decode()
    assert "echoscu -aet DICOMCONSOLE -aec PACS -r 3 127.0.0.1 11112" in page
    api = client.get(f"/api/jobs/{job.pk}").json()
    assert {c["tool_set"]: c["command"] for c in api["commands"]} == {
        "DCMTK": "echoscu -aet DICOMCONSOLE -aec PACS -r 3 127.0.0.1 11112",
        "dcm4che": "storescu -b DICOMCONSOLE -c PACS@127.0.0.1:11112",
    }


def test_forms_need_the_kinds_role_and_a_known_kind(viewer: User, operator: User) -> None:
    assert logged_in(viewer).get("/jobs/new/echo/").status_code == 403
    assert logged_in(operator).get("/jobs/new/no-such-kind/").status_code == 404
    assert logged_in(operator).get("/jobs/new/import/").status_code == 404  # has its page


def test_prefilled_from_the_query_string(operator: User, remote_ae: Any) -> None:
    ae = remote_ae(ae_title="PACS", port=11112)
    page = logged_in(operator).get(f"/jobs/new/echo/?ae={ae.pk}&repeat=5").content.decode()
    assert f'<option value="{ae.pk}" selected>' in page and 'value="5"' in page
