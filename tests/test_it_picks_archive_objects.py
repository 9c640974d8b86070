"""The archive picker: a form field that takes archive IDs or pasted Study / Series / SOP
Instance UIDs and names what it refuses, the search behind it, the summary each choice
reads as (checked against the files on disk), and the forms that use it."""

from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import User
from pydicom import dcmread
from pydicom.uid import UID, generate_uid

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Series, Study
from archive.pickers import ArchiveObjectField, PickLevel
from console.templatetags.console_format import format_size
from netjobs.models import Job
from tests.archive_helpers import corpus, make_object
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_storage(settings: Any, tmp_path: Path) -> Path:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.INSPECT_DIR = tmp_path / "inspect"
    return Path(settings.STORAGE_ROOT)


def mr2_study(folder: Path, count: int = 3) -> Study:
    """CompressedSamples^MR2 · SHOULDER with ``count`` instances (new SOP Instance UIDs)."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, count + 1):
        ds = dcmread(corpus("MR2_UNCI.dcm"))
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(generate_uid())
        ds.InstanceNumber = number
        path = folder / f"mr2-{number}.dcm"
        ds.save_as(path)
        store_file(path, source=InstanceSource.UPLOAD)
    return Study.objects.get(patient__patient_name="CompressedSamples^MR2")


def on_disk(storage: Path, study_uid: str) -> tuple[str, str, int, int]:
    """Patient name, description, file count and bytes of a study, read from the files."""
    names, descriptions, count, size = set(), set(), 0, 0
    for path in storage.rglob("*"):
        if not path.is_file():
            continue
        ds = dcmread(path, stop_before_pixels=True, force=True)
        if ds.get("StudyInstanceUID") == study_uid:
            names.add(str(ds.PatientName))
            descriptions.add(str(ds.StudyDescription))
            count += 1
            size += path.stat().st_size
    assert len(names) == len(descriptions) == 1
    return names.pop(), descriptions.pop(), count, size


class PickForm(forms.Form):
    study = ArchiveObjectField(PickLevel.STUDY, required=False)
    studies = ArchiveObjectField(PickLevel.STUDY, multiple=True, required=False)
    series = ArchiveObjectField(PickLevel.SERIES, required=False)
    instance = ArchiveObjectField(PickLevel.INSTANCE, required=False)


def test_archive_ids_and_uids_resolve_to_objects(own_storage: Path, tmp_path: Path) -> None:
    study = mr2_study(tmp_path / "in")
    series = Series.objects.get()
    instance = Instance.objects.order_by("instance_number").first()
    assert instance is not None
    other = store_file(corpus("693_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    form = PickForm({"study": study.study_instance_uid,
                     "studies": [str(study.pk), f"{other.series.study.study_instance_uid}, "
                                                f"{study.pk}"],
                     "series": f"series:{series.pk}", "instance": instance.sop_instance_uid})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["study"] == study
    assert form.cleaned_data["studies"] == [study, other.series.study]  # in order, no repeat
    assert form.cleaned_data["series"] == series
    assert form.cleaned_data["instance"] == instance
    by_pk = PickForm({"instance": str(other.pk), "study": ""})
    assert by_pk.is_valid() and by_pk.cleaned_data["instance"] == other
    assert by_pk.cleaned_data["study"] is None and by_pk.cleaned_data["studies"] == []


def test_unknown_and_wrong_level_references_are_named(own_storage: Path,
                                                      tmp_path: Path) -> None:
    study = mr2_study(tmp_path / "in", count=1)
    instance = Instance.objects.get()
    form = PickForm({"study": "1.2.3.999", "series": study.study_instance_uid,
                     "instance": "not-a-uid", "studies": f"{study.pk} 987654"})
    assert not form.is_valid()
    assert form.errors["study"] == ["No study with Study Instance UID 1.2.3.999 in the archive."]
    assert form.errors["series"] == [
        f"{study.study_instance_uid} is a Study Instance UID, not a Series Instance UID: "
        "choose a series."]
    assert "“not-a-uid” is neither an archive ID nor a SOP Instance UID" in \
        form.errors["instance"][0]
    assert form.errors["studies"] == ["No study with archive ID 987654."]
    two = PickForm({"instance": f"{instance.pk} {instance.sop_instance_uid}x"})
    assert not two.is_valid() and "neither an archive ID" in two.errors["instance"][0]
    other = store_file(corpus("693_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    many = PickForm({"study": f"{study.pk} {other.series.study_id}"})
    assert many.errors["study"] == ["Choose one study (2 given)."]


def test_the_summary_is_what_the_files_on_disk_say(own_storage: Path, tmp_path: Path,
                                                   viewer: User) -> None:
    study = mr2_study(tmp_path / "in", count=3)
    name, description, count, size = on_disk(own_storage, study.study_instance_uid)
    expected = f"{name} · {description} · {count} instances, {format_size(size)}"
    assert expected.startswith("CompressedSamples^MR2 · SHOULDER · 3 instances, ")
    html = str(PickForm(initial={"study": study.pk})["study"])
    assert expected in html and f'value="{study.pk}"' in html
    found = logged_in(viewer).get("/archive/pick/study/", {"q": "compressed*"}).json()
    assert [r["summary"] for r in found["results"]] == [expected]
    series_html = str(PickForm(initial={"series": Series.objects.get().pk})["series"])
    assert f"{name} · MR · {count} instances, {format_size(size)}" in series_html
    instance = Instance.objects.get(instance_number=2)
    one = (instance.series.study.patient.patient_name, own_storage / instance.file_path)
    instance_html = str(PickForm(initial={"instance": instance.sop_instance_uid})["instance"])
    assert f"{one[0]} · MR · Instance 2 · MR Image Storage, " \
           f"{format_size(one[1].stat().st_size)}" in instance_html


def test_the_search_matches_names_ids_accessions_and_uid_prefixes(
        own_storage: Path, tmp_path: Path, viewer: User, no_role_user: User) -> None:
    for i in range(23):
        store_file(make_object(tmp_path, patient_name=f"Many^{i:02d}", patient_id=f"M{i}",
                               study_date=f"2024{1 + i % 12:02d}01", modality="OT",
                               accession=f"ACC{i}", description=f"Knee {i}"),
                   source=InstanceSource.UPLOAD)
    target = Study.objects.get(accession_number="ACC7")
    client = logged_in(viewer)

    def values(level: str, q: str) -> list[str]:
        response = client.get(f"/archive/pick/{level}/", {"q": q})
        assert response.status_code == 200
        return [r["value"] for r in response.json()["results"]]

    many = client.get("/archive/pick/study/", {"q": "many^*"}).json()
    assert len(many["results"]) == 20 and many["more"] is True
    dates = [str(Study.objects.get(pk=int(v)).study_date) for v in values("study", "many^*")]
    assert dates == sorted(dates, reverse=True)  # newest studies first
    assert values("study", "ACC7") == [str(target.pk)]
    assert values("study", "M7") == [str(target.pk)]
    assert values("study", "Many^0?") == [str(s.pk) for s in Study.objects.filter(
        patient__patient_name__startswith="Many^0").order_by("-study_date", "-pk")]
    assert values("study", "knee acc7") == [str(target.pk)]
    assert values("study", target.study_instance_uid[:-1]) == [str(target.pk)]
    instance = Instance.objects.get(series__study=target)
    assert values("instance", target.study_instance_uid) == [str(instance.pk)]
    assert values("series", "ACC7") == [str(instance.series_id)]
    assert values("study", "nobody-has-this") == []
    assert client.get("/archive/pick/patient/").status_code == 404
    assert logged_in(no_role_user).get("/archive/pick/study/").status_code == 403


def test_the_store_form_takes_a_pasted_uid_and_shows_choices_when_refused(
        own_storage: Path, tmp_path: Path, operator: User, remote_ae: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    study = mr2_study(tmp_path / "in", count=2)
    client = logged_in(operator)
    prefilled = client.get(f"/jobs/new/store/?studies={study.pk}").content.decode()
    assert "CompressedSamples^MR2 · SHOULDER · 2 instances" in prefilled
    refused = client.post("/jobs/new/store/", {
        "studies": [str(study.pk), "1.2.3.404"], "decompress": "lossless", "associations": 1})
    page = refused.content.decode()
    assert refused.status_code == 422
    assert "No study with Study Instance UID 1.2.3.404 in the archive." in page
    assert "CompressedSamples^MR2 · SHOULDER · 2 instances" in page  # what was chosen
    assert 'value="1.2.3.404"' in page  # the refused reference stays in the box to fix
    ae = remote_ae(ae_title="PACS", port=11112)
    instance = Instance.objects.first()
    assert instance is not None
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post("/jobs/new/store/", {
            "ae": ae.pk, "studies": study.study_instance_uid,
            "instances": instance.sop_instance_uid,
            "decompress": "lossless", "associations": 1})
    assert started.status_code == 302, started.content.decode()[:2000]
    job = Job.objects.get()
    assert job.params["studies"] == [study.pk] and job.params["series"] == []
    assert job.params["instances"] == [instance.pk]


def test_the_tools_take_uids(own_storage: Path, tmp_path: Path, viewer: User) -> None:
    study = mr2_study(tmp_path / "in", count=2)
    first, second = Instance.objects.order_by("instance_number")
    client = logged_in(viewer)
    diff = client.get("/tools/diff/", {"a": first.sop_instance_uid, "b": str(second.pk)})
    assert {d.path for d in diff.context["differences"]} == {"00080018", "00200013"}
    assert "CompressedSamples^MR2 · MR · Instance 1" in diff.content.decode()
    compare_with = client.get("/tools/diff/", {"a": f"instance:{first.pk}"})  # instance page
    assert "differences" not in compare_with.context and not compare_with.context["form"].errors
    assert "CompressedSamples^MR2 · MR · Instance 1" in compare_with.content.decode()
    wrong = client.get("/tools/diff/", {"a": study.study_instance_uid, "b": ""})
    text = wrong.content.decode()
    assert "is a Study Instance UID, not a SOP Instance UID" in text
    assert "differences" not in wrong.context
    scanned = client.get("/tools/scanner/", {"study": study.study_instance_uid,
                                             "tags": "InstanceNumber", "path": ""})
    assert sorted(r.values[0] for r in scanned.context["rows"]) == ["1", "2"]
    both = client.get("/tools/scanner/", {"study": str(study.pk), "path": "/x", "tags": "X"})
    assert "one of them" in both.content.decode()
    series = Series.objects.get()
    formatted = client.get("/tools/format/", {"series": series.series_instance_uid,
                                              "pattern": "{InstanceNumber}", "study": "",
                                              "instance": ""})
    assert [text for _, text in formatted.context["results"]] == ["1", "2"]


def test_own_uploads_are_found_and_compared(own_storage: Path, viewer: User,
                                            operator: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload(user: User, name: str) -> str:
        response = logged_in(user).post("/inspect/", {"file": SimpleUploadedFile(
            name, corpus("693_UNCI.dcm").read_bytes())})
        return str(response["Location"]).strip("/").split("/")[-1]

    mine, theirs = upload(viewer, "mine-head.dcm"), upload(operator, "theirs-head.dcm")
    client = logged_in(viewer)
    found = client.get("/archive/pick/instance/", {"q": "head", "uploads": "1"}).json()
    assert [r["value"] for r in found["results"]] == [f"upload:{mine}"]
    assert found["results"][0]["summary"].startswith("Uploaded file mine-head.dcm · ")
    archived = store_file(corpus("693_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    page = client.get("/tools/diff/", {"a": f"upload:{mine}", "b": archived.sop_instance_uid})
    assert page.context["differences"] == []  # the same bytes
    assert "Uploaded file mine-head.dcm" in page.content.decode()
    assert client.get("/tools/diff/", {"a": f"upload:{theirs}", "b": str(archived.pk)}
                      ).status_code == 404
