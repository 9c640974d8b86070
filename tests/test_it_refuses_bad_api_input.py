"""Bad API input gets 422 (or 409), never a 500; /healthz answers without login."""

from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from netjobs.jobs.base import JobOutcome, mark_finished
from netjobs.models import ApplicationEntity, Job, JobStatus
from tests.conftest import logged_in


def test_patch_with_null_is_422(administrator: User, remote_ae: Any) -> None:
    ae = remote_ae(description="kept")
    client = logged_in(administrator)
    for field in ("description", "tls_ca_file", "port"):
        response = client.patch(f"/api/aes/{ae.pk}", {field: None}, content_type="application/json")
        assert response.status_code == 422, field
        assert response.json()["detail"][0]["loc"][-1] == field
    ae.refresh_from_db()
    assert ae.description == "kept"


def test_nul_characters_are_422(administrator: User) -> None:
    client = logged_in(administrator)
    for field, value in (("description", "a\x00b"), ("host", "pacs\x00"), ("ae_title", "A\x00")):
        body = {"ae_title": "OK", "host": "127.0.0.1", "port": 104, field: value}
        response = client.post("/api/aes", body, content_type="application/json")
        assert response.status_code == 422, field
    assert not ApplicationEntity.objects.exists()


def test_token_names_are_bounded(viewer: User) -> None:
    client = logged_in(viewer)
    for name in ("x" * 101, "", "bad\x00name"):
        response = client.post("/api/tokens", {"name": name}, content_type="application/json")
        assert response.status_code == 422, name


def test_ae_output_hides_the_key_path_from_viewers(viewer: User, remote_ae: Any) -> None:
    remote_ae(tls_key_file="/srv/tls/key.pem")
    (ae,) = logged_in(viewer).get("/api/aes").json()
    assert "tls_key_file" not in ae and ae["tls_key_configured"] is True


def test_retry_of_a_job_whose_kind_is_gone_is_409(operator: User) -> None:
    job = Job.objects.create(kind="gone", status=JobStatus.FAILED, owner=operator)
    client = logged_in(operator)
    assert client.post(f"/api/jobs/{job.pk}/retry").status_code == 409
    response = client.post(f"/jobs/{job.pk}/retry/", follow=True)
    assert response.status_code == 200
    assert "can no longer run" in response.content.decode()


def test_a_reaped_job_stays_failed_when_its_run_ends_later(operator: User) -> None:
    job = Job.objects.create(kind="echo", status=JobStatus.FAILED, owner=operator, error="reaped")
    assert mark_finished(job, JobOutcome(JobStatus.SUCCEEDED)) is False
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, "reaped")


def test_healthz_answers_without_login_and_for_any_host(db: Any) -> None:
    response = Client().get("/healthz", headers={"Host": "not-an-allowed-host.example"})
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert Client().post("/healthz").status_code != 200


def test_odd_parameters_get_404_or_422_not_500(viewer: User, administrator: User,
                                               db: Any) -> None:
    client = logged_in(viewer)
    for url in ("/inspect/instance/²/", "/tools/scanner/?study=abc&tags=Modality",
                "/tools/format/?study=x&pattern={Modality}", "/tools/diff/?a=instance:²&b=x"):
        assert client.get(url).status_code in (404, 422), url
    bad_slice = client.get("/api/format", {"pattern": "{PatientID,slice,x}", "instance": "1"})
    assert bad_slice.status_code == 422
    listener = logged_in(administrator).post(
        "/api/listeners", {"name": "l", "ae_title": "CONSOLE", "port": 11112},
        content_type="application/json").json()
    patched = logged_in(administrator).patch(
        f"/api/listeners/{listener['id']}", {"query_retrieve": False, "dimse_timeout": 9},
        content_type="application/json").json()
    assert (patched["query_retrieve"], patched["dimse_timeout"]) == (False, 9)
    unknown = logged_in(administrator).patch(
        f"/api/listeners/{listener['id']}", {"bogus": 1}, content_type="application/json")
    assert unknown.status_code == 422


def test_wildcard_runs_do_not_backtrack() -> None:
    import time

    from archive.matching import QueryError, _wildcard_regex

    assert _wildcard_regex("***a**") == "^.*a.*$"
    try:
        _wildcard_regex("?" * 20)
    except QueryError:
        pass
    else:
        raise AssertionError("too many wildcards must be refused")
    import re

    started = time.perf_counter()
    assert not re.match(_wildcard_regex("*" * 13 + "#"), "x" * 40)
    assert time.perf_counter() - started < 0.5


def test_listener_output_hides_the_key_path_from_viewers(viewer: User) -> None:
    from tests.listener_helpers import make_listener
    make_listener(tls_cert_file="/srv/tls/cert.pem", tls_key_file="/srv/tls/key.pem")
    (listener,) = logged_in(viewer).get("/api/listeners").json()
    assert "tls_key_file" not in listener and listener["tls_key_configured"] is True
    assert listener["tls_cert_file"] == "/srv/tls/cert.pem"
