"""QIDO-RS under /dicomweb/: searches at every level, relative ones, paging, includefield,
JSON and multipart XML, with the console's accounts; the values compared with the archived
files read by pydicom, and dicomweb-client as an independent client."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from dicomweb_client.api import DICOMwebClient
from django.contrib.auth.models import User
from django.test import Client
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.inspect.nativexml import from_native_xml
from archive.models import Instance, InstanceSource
from console.tokens import issue_token
from tests.archive_helpers import corpus, make_object

PEOPLE = (("Doe^John", "P1", "CT", "20240102"), ("Doe^Jane", "P2", "MR", "20240315"),
          ("Roe^Rita", "P3", "MR", "20231120"))


@pytest.fixture
def archived(db: Any, settings: Any, tmp_path: Path) -> list[Path]:
    """Three made studies (one with two series of two and one instances) and a corpus CT."""
    settings.STORAGE_ROOT = tmp_path / "storage"
    made = tmp_path / "made"
    made.mkdir()
    files = []
    for name, pid, modality, date in PEOPLE:
        files.append(make_object(made, patient_name=name, patient_id=pid, study_date=date,
                                 modality=modality, accession=f"A-{pid}"))
    first, second_series = dcmread(files[0]), generate_uid()
    for rows in (8, 12):  # two more instances of the first study, in a second series
        files.append(make_object(made, patient_name="Doe^John", patient_id="P1",
                                 study_date="20240102", modality="CT", accession="A-P1",
                                 study_uid=first.StudyInstanceUID,
                                 series_uid=second_series, rows=rows))
    files.append(corpus("693_UNCI.dcm"))
    for path in files:
        store_file(path, source=InstanceSource.UPLOAD)
    return files


def _client(user: User) -> Client:
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'qido').raw}"})


def _value(result: dict[str, Any], tag: str) -> Any:
    values = result.get(tag, {}).get("Value", [])
    if not values:
        return None
    value = values[0]
    return value["Alphabetic"] if isinstance(value, dict) and "Alphabetic" in value else value


def _by_uid(files: list[Path], keyword: str) -> dict[str, list[Dataset]]:
    found: dict[str, list[Dataset]] = {}
    for path in files:
        ds = dcmread(path, stop_before_pixels=True)
        found.setdefault(str(ds[keyword].value), []).append(ds)
    return found


def test_studies_carry_the_files_values(archived: list[Path], viewer: User) -> None:
    response = _client(viewer).get("/dicomweb/studies")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom+json"
    results = response.json()
    studies = _by_uid(archived, "StudyInstanceUID")
    assert sorted(_value(r, "0020000D") for r in results) == sorted(studies)
    for result in results:
        uid = _value(result, "0020000D")
        files = studies[uid]
        ds = files[0]
        assert (_value(result, "00100010") or "") == str(ds.PatientName)
        assert (_value(result, "00100020") or "") == ds.PatientID
        assert (_value(result, "00080020") or "") == ds.StudyDate
        assert _value(result, "00201208") == len(files)
        assert _value(result, "00201206") == len({f.SeriesInstanceUID for f in files})
        assert result["00080061"]["Value"] == sorted({f.Modality for f in files})
        assert _value(result, "00081190").endswith(f"/dicomweb/studies/{uid}")
        assert _value(result, "00080056") == "ONLINE"
        # pydicom reads the object and writes it back the same: valid PS3.18 F.2 JSON
        assert Dataset.from_json(result).to_json_dict() == result


@pytest.mark.parametrize(("query", "patients"), [
    ({"PatientName": "doe*"}, {"P1", "P2"}),
    ({"00100010": "DOE^JANE"}, {"P2"}),
    ({"StudyDate": "20240101-20241231"}, {"P1", "P2"}),
    ({"StudyDate": "-20231231"}, {"P3"}),
    ({"ModalitiesInStudy": "MR"}, {"P2", "P3"}),
    ({"AccessionNumber": "A-P?"}, {"P1", "P2", "P3"}),
    ({"PatientID": "P9"}, set()),
])
def test_studies_match_like_the_cfind_scp(archived: list[Path], viewer: User,
                                          query: dict[str, str], patients: set[str]) -> None:
    results = _client(viewer).get("/dicomweb/studies", query).json()
    assert {_value(r, "00100020") for r in results} == patients


def test_a_list_of_uids_and_relative_searches(archived: list[Path], viewer: User) -> None:
    client = _client(viewer)
    studies = _by_uid(archived, "StudyInstanceUID")
    two = sorted(studies)[:2]
    results = client.get("/dicomweb/studies", {"StudyInstanceUID": ",".join(two)}).json()
    assert sorted(_value(r, "0020000D") for r in results) == two
    big = next(uid for uid, files in studies.items() if len(files) == 3)
    series = client.get(f"/dicomweb/studies/{big}/series").json()
    expected = _by_uid([p for p in archived if dcmread(p).StudyInstanceUID == big],
                       "SeriesInstanceUID")
    assert sorted(_value(r, "0020000E") for r in series) == sorted(expected)
    assert all("00100010" not in r for r in series)  # relative: no study attributes
    for uid, files in expected.items():
        instances = client.get(f"/dicomweb/studies/{big}/series/{uid}/instances").json()
        assert sorted(_value(r, "00080018") for r in instances) == sorted(
            str(f.SOPInstanceUID) for f in files)
        rows = {_value(r, "00080018"): _value(r, "00280010") for r in instances}
        assert rows == {str(f.SOPInstanceUID): f.Rows for f in files}
        assert all(_value(r, "00081190").endswith(
            f"/studies/{big}/series/{uid}/instances/{_value(r, '00080018')}")
            for r in instances)
    everything = client.get("/dicomweb/instances", {"Modality": "CT"}).json()
    assert {_value(r, "00080060") for r in everything} == {"CT"}
    assert all(_value(r, "00100010") for r in everything)  # not relative: study attributes
    in_study = client.get(f"/dicomweb/studies/{big}/instances").json()
    assert len(in_study) == 3
    # relative to the study: the series attributes come, the study's do not
    assert all(_value(r, "00080060") == "CT" and "00100010" not in r for r in in_study)


def test_paging_and_includefield(archived: list[Path], viewer: User) -> None:
    client = _client(viewer)
    seen: list[str] = []
    for offset in range(0, 10, 2):
        response = client.get("/dicomweb/instances", {"limit": 2, "offset": offset})
        page = [_value(r, "00080018") for r in response.json()]
        seen += page
        if offset + 2 < len(archived):
            assert "offset=" in response["Warning"]
    assert sorted(seen) == sorted(str(dcmread(p).SOPInstanceUID) for p in archived)
    one = client.get("/dicomweb/studies", {"PatientID": "P2",
                                           "includefield": "StudyDescription,00081030"}).json()
    assert "00081030" in one[0]
    every = client.get("/dicomweb/series", {"includefield": "all"}).json()
    assert all("00180015" in r and "00100040" in r for r in every)
    instances = client.get("/dicomweb/instances", {"includefield": "all"}).json()
    assert all(Dataset.from_json(r).to_json_dict() == r for r in [*every, *instances])
    response = client.get("/dicomweb/studies", {"includefield": "ImageComments",
                                                "fuzzymatching": "true"})
    assert response.status_code == 200
    assert "ImageComments" in response["Warning"] and "fuzzymatching" in response["Warning"]


def test_multipart_xml_holds_the_same_results(archived: list[Path], viewer: User) -> None:
    client = _client(viewer)
    as_json = client.get("/dicomweb/series").json()
    response = client.get("/dicomweb/series",
                          HTTP_ACCEPT='multipart/related; type="application/dicom+xml"')
    assert response.status_code == 200
    message = email.message_from_bytes(
        b"Content-Type: " + response["Content-Type"].encode() + b"\r\n\r\n" + response.content,
        policy=email.policy.HTTP)
    parts = [from_native_xml(part.get_content()) for part in message.iter_parts()]
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "application/dicom+xml"] * len(as_json)
    assert sorted(str(ds.SeriesInstanceUID) for ds in parts) == sorted(
        _value(r, "0020000E") for r in as_json)


@pytest.mark.parametrize(("query", "reason"), [
    ({"ImageComments": "x"}, "not supported"),
    ({"limit": "-1"}, "whole number"),
    ({"0008103E.00080100": "x"}, "inside sequences"),
    ({"NoSuchKeyword": "x"}, "neither a DICOM keyword"),
    ({"StudyDate": "2024"}, "cannot be matched"),
])
def test_bad_queries_are_400_with_the_reason(archived: list[Path], viewer: User,
                                             query: dict[str, str], reason: str) -> None:
    response = _client(viewer).get("/dicomweb/studies", query)
    assert response.status_code == 400
    assert reason in response.content.decode()


def test_it_needs_an_account_with_a_role(archived: list[Path], no_role_user: User,
                                         viewer: User) -> None:
    anonymous = Client().get("/dicomweb/studies")
    assert anonymous.status_code == 401 and "Bearer" in anonymous["WWW-Authenticate"]
    assert Client(headers={"Authorization": "Bearer nope"}).get(
        "/dicomweb/studies").status_code == 401
    assert _client(no_role_user).get("/dicomweb/studies").status_code == 403
    session = Client()
    session.force_login(viewer)
    assert session.get("/dicomweb/studies").status_code == 200
    assert session.post("/dicomweb/studies").status_code in (403, 405)  # CSRF or method
    assert _client(viewer).get("/dicomweb/studies", HTTP_ACCEPT="image/png").status_code == 406


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_searches_every_level(archived: list[Path], viewer: User,
                                              live_server: Any) -> None:
    client = DICOMwebClient(url=f"{live_server.url}/dicomweb",
                            headers={"Authorization": f"Bearer {issue_token(viewer, 'c').raw}"})
    studies = client.search_for_studies(search_filters={"PatientName": "Doe*"})
    assert {Dataset.from_json(s).PatientID for s in studies} == {"P1", "P2"}
    uid = next(Dataset.from_json(s).StudyInstanceUID for s in studies
               if Dataset.from_json(s).PatientID == "P1")
    series = client.search_for_series(study_instance_uid=uid)
    assert len(series) == 2
    instances = client.search_for_instances(study_instance_uid=uid, limit=2, offset=1)
    assert len(instances) == 2
    assert Instance.objects.filter(
        sop_instance_uid__in=[Dataset.from_json(i).SOPInstanceUID for i in instances],
        series__study__study_instance_uid=uid).count() == 2
