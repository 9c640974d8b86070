"""``edit`` jobs in the archive through a real Celery worker: the index follows the edit
(a Patient ID change moves the study, new UIDs never leave two rows for one file), every
instance keeps a before/after record, a failed edit changes nothing, and an edit that would
break a file is refused with 422 before it starts."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from archive.indexing import store_file
from archive.models import AttributeEdit, Instance, InstanceSource, Patient, Study
from archive.storage import absolute_path
from netjobs.models import Job, JobStatus
from tests.archive_helpers import import_folder, make_object
from tests.conftest import logged_in
from tests.conversion_helpers import run_conversion
from tests.peers import require_tool

pytestmark = pytest.mark.django_db(transaction=True)


def archived_study(count: int = 2) -> list[Instance]:
    """A study of ``count`` instances; the second references the first."""
    study_uid, series_uid = generate_uid(), generate_uid()
    instances = []
    with import_folder() as folder:
        paths = [make_object(folder, patient_name="Old^Name", patient_id="OLD-1",
                             study_date="20240102", modality="OT", study_uid=study_uid,
                             series_uid=series_uid) for _ in range(count)]
        first = dcmread(paths[0])
        for path in paths[1:]:
            ds = dcmread(path)
            reference = Dataset()
            reference.ReferencedSOPClassUID = first.SOPClassUID
            reference.ReferencedSOPInstanceUID = first.SOPInstanceUID
            ds.ReferencedImageSequence = Sequence([reference])
            ds.save_as(path)
        for number, path in enumerate(paths, start=1):
            ds = dcmread(path)
            ds.InstanceNumber = number
            ds.save_as(path)
            instances.append(store_file(path, source=InstanceSource.PATH_IMPORT).instance)
    return instances


def dump(path: Path) -> list[str]:
    """dcmdump's data set lines (the meta group apart) — the independent view of a file."""
    require_tool("dcmdump")
    out = subprocess.run(["dcmdump", "-q", "+L", str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [line for line in out.splitlines() if line.startswith("(") and
            not line.startswith("(0002,")]


def test_a_patient_id_change_moves_the_study_and_records_before_and_after(
        celery_worker_process: Path, operator: User, tmp_path: Path) -> None:
    instances = archived_study()
    before = {}
    for instance in instances:
        copy = tmp_path / f"{instance.pk}.dcm"
        shutil.copyfile(absolute_path(instance.file_path), copy)
        before[instance.sop_instance_uid] = dump(copy)
    study = instances[0].series.study
    job = run_conversion("edit", operator, studies=[study.pk],
                         changes=[{"path": "PatientID", "action": "modify", "value": "NEW-2"},
                                  {"path": "PatientName", "action": "insert",
                                   "value": "New^Name"}])

    assert job.status == JobStatus.SUCCEEDED, (job.error, list(job.items.values("message")))
    assert Instance.objects.count() == 2
    assert list(Patient.objects.values_list("patient_id", flat=True)) == ["NEW-2"]
    assert Study.objects.get().patient.patient_name == "New^Name"
    for instance in Instance.objects.all():
        after = dump(absolute_path(instance.file_path))
        old = before[instance.sop_instance_uid]
        changed = sorted(set(old) ^ set(after))
        assert len(changed) == 4, changed  # two lines out, two lines in
        assert any("(0010,0020)" in line and "NEW-2" in line for line in after)
        assert any("(0010,0010)" in line and "New^Name" in line for line in after)
        record = AttributeEdit.objects.get(instance=instance)
        by_keyword = {c["keyword"]: c for c in record.changes}
        assert by_keyword["PatientID"]["old"] == "[OLD-1]"  # as dcmdump shows it
        assert by_keyword["PatientID"]["new"] == "[NEW-2]"
        assert record.username == operator.username and record.job_id == job.pk
    client = logged_in(operator)
    page = client.get(f"/archive/instances/{instances[0].pk}/").content.decode()
    assert "Attribute edits" in page and "OLD-1" in page and "NEW-2" in page
    study_page = client.get(f"/archive/studies/{Study.objects.get().pk}/").content.decode()
    assert study_page.count("edit-record") == 2
    job_page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "dcmodify" in job_page and "(0010,0020)" in job_page


def test_new_uids_replace_the_originals_without_leaving_two_rows(
        celery_worker_process: Path, operator: User) -> None:
    instances = archived_study()
    old_uids = {i.sop_instance_uid for i in instances}
    old_files = [absolute_path(i.file_path) for i in instances]
    old_study_uid = instances[0].series.study.study_instance_uid
    job = run_conversion("edit", operator, series=[instances[0].series_id], uids="new",
                         dcmodify='-i "(0008,103E)=Edited series"')

    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = list(Instance.objects.select_related("series__study"))
    assert len(rows) == 2 and not old_uids & {i.sop_instance_uid for i in rows}
    assert Study.objects.count() == 1
    assert Study.objects.get().study_instance_uid != old_study_uid
    assert not any(path.exists() for path in old_files)
    by_number = {i.instance_number: dcmread(absolute_path(i.file_path)) for i in rows}
    reference = by_number[2].ReferencedImageSequence[0].ReferencedSOPInstanceUID
    assert reference == by_number[1].SOPInstanceUID  # remapped inside the set
    assert by_number[1].file_meta.MediaStorageSOPInstanceUID == by_number[1].SOPInstanceUID
    records = AttributeEdit.objects.all()
    assert {r.sop_instance_uid_before for r in records} == old_uids
    assert {r.instance_id for r in records} == {i.pk for i in rows}
    job_page = logged_in(operator).get(f"/jobs/{job.pk}/").content.decode()
    assert "-gst -gse -gin" in job_page  # dcmodify draws new UIDs; xml2dcm cannot, and says so
    assert "no dcm4che line: xml2dcm has no option to generate new UIDs" in job_page


def test_keeping_the_originals_makes_linked_copies(
        celery_worker_process: Path, operator: User) -> None:
    instances = archived_study()
    job = run_conversion("edit", operator, instances=[instances[0].pk], uids="new",
                         originals="keep", changes=[{"path": "StudyDescription",
                                                     "action": "insert", "value": "Copy"}])

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert Instance.objects.count() == 3
    copy = Instance.objects.get(derived_from=instances[0])
    assert copy.source == InstanceSource.EDIT
    assert absolute_path(instances[0].file_path).is_file()
    assert AttributeEdit.objects.get().originals_kept


def test_a_failed_edit_changes_nothing(celery_worker_process: Path, operator: User) -> None:
    instances = archived_study()
    broken = absolute_path(instances[1].file_path)
    broken.write_bytes(broken.read_bytes()[:200])  # the stored file went bad on disk
    good = absolute_path(instances[0].file_path)
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    job = run_conversion("edit", operator, studies=[instances[0].series.study_id],
                         changes=[{"path": "PatientID", "action": "modify", "value": "X"}])

    assert job.status == JobStatus.FAILED
    assert "Nothing changed" in job.error
    assert hashlib.sha256(good.read_bytes()).hexdigest() == digest
    assert Instance.objects.get(pk=instances[0].pk).file_path == instances[0].file_path
    assert not AttributeEdit.objects.exists()
    assert list(Patient.objects.values_list("patient_id", flat=True)) == ["OLD-1"]


@pytest.mark.parametrize(("changes", "words"), [
    ([{"path": "StudyDate", "action": "insert", "value": "2024-13-45"}], "StudyDate"),
    ([{"path": "PatientSex", "action": "insert", "value": "a" * 20}], "PatientSex"),
    ([{"path": "Modality", "action": "remove"}], "Modality"),
    ([{"path": "SOPInstanceUID", "action": "remove"}], "SOPInstanceUID"),
    ([{"path": "(0002,0010)", "action": "insert", "value": "1.2.840.10008.1.2"}], "0002"),
    ([{"path": "PixelData", "action": "modify", "value": "00"}], "not edited here"),
])
def test_edits_that_would_break_a_file_are_422(operator: User, changes: list[dict[str, str]],
                                               words: str) -> None:
    instances = archived_study(1)
    response = logged_in(operator).post(
        "/api/jobs", {"kind": "edit", "params": {"instances": [instances[0].pk],
                                                 "changes": changes}},
        content_type="application/json")
    assert response.status_code == 422, response.content
    assert words in json.dumps(response.json())
    assert not Job.objects.exists()


def test_the_form_turns_rows_into_changes(operator: User) -> None:
    instances = archived_study(1)
    response = logged_in(operator).post("/jobs/new/edit/", {
        "instances": str(instances[0].pk), "how": "form", "output": "archive",
        "uids": "keep", "originals": "replace",
        "path_0": "ReferencedImageSequence[0].ReferencedSOPInstanceUID", "action_0": "insert",
        "value_0": "1.2.3.4", "path_1": "(0010,1010)", "action_1": "insert", "value_1": "042Y",
        "action_2": "insert"})
    assert response.status_code == 302, response.content.decode()[:3000]
    job = Job.objects.get()
    assert [c["path"] for c in job.params["changes"]] == [
        "ReferencedImageSequence[0].ReferencedSOPInstanceUID", "(0010,1010)"]


def test_an_edit_that_gives_two_files_one_uid_changes_nothing(
        celery_worker_process: Path, operator: User) -> None:
    instances = archived_study()
    files = {i.pk: absolute_path(i.file_path).read_bytes() for i in instances}
    job = run_conversion("edit", operator, series=[instances[0].series_id],
                         dcmodify='-m "(0008,0018)=1.2.826.0.1.3680043.8.498.1"')

    assert job.status == JobStatus.FAILED and "Nothing changed" in job.error
    assert "one UID is one instance" in job.error or any(
        "one UID is one instance" in m for m in job.items.values_list("message", flat=True))
    assert sorted(Instance.objects.values_list("pk", flat=True)) == sorted(files)
    for instance in Instance.objects.all():
        assert absolute_path(instance.file_path).read_bytes() == files[instance.pk]


@pytest.mark.parametrize(("row", "shown"), [
    ({"path_0": "StudyDate", "action_0": "insert", "value_0": "2024-13-45"},
     "StudyDate (0008,0020): &#x27;2024-13-45&#x27; is not a valid DA value"),
    ({"path_0": "PatientSex", "action_0": "insert", "value_0": "a" * 20}, "PatientSex"),
    ({"path_0": "Modality", "action_0": "remove"}, "Removing Modality (0008,0060) is refused"),
    ({"path_0": "PixelData", "action_0": "insert", "value_0": "00"},
     "PixelData (7FE0,0010) is not edited here"),
], ids=["calendar-date", "CS-length", "type-1", "pixel-data"])
def test_the_form_shows_why_an_edit_is_refused(operator: User, row: dict[str, str],
                                               shown: str) -> None:
    """The browser form: 422, the page again with the reason, and no job."""
    instances = archived_study(1)
    response = logged_in(operator).post("/jobs/new/edit/", {
        "instances": str(instances[0].pk), "how": "form", "output": "archive",
        "uids": "keep", "originals": "replace", **row})
    assert response.status_code == 422
    page = response.content.decode()
    assert shown in page, page[:4000]
    assert not Job.objects.exists()


def test_a_patient_id_change_onto_an_archived_patient_joins_that_patient(
        celery_worker_process: Path, operator: User) -> None:
    """The edited study moves under the patient already archived with that Patient ID:
    one patient row for it (no duplicate), holding both studies; the emptied one goes."""
    instances = archived_study()
    with import_folder() as folder:
        other = store_file(make_object(folder, patient_name="Other^Patient",
                                       patient_id="OTHER-9", study_date="20230101",
                                       modality="OT"), source=InstanceSource.PATH_IMPORT)
    target = other.instance.series.study.patient
    edited = instances[0].series.study
    job = run_conversion("edit", operator, studies=[edited.pk],
                         dcmodify="-m PatientID=OTHER-9")

    assert job.status == JobStatus.SUCCEEDED, (job.error, list(job.items.values("message")))
    assert list(Patient.objects.values_list("pk", "patient_id")) == [(target.pk, "OTHER-9")]
    assert set(Study.objects.values_list("pk", "patient_id")) == {
        (edited.pk, target.pk), (other.instance.series.study_id, target.pk)}
    assert Instance.objects.count() == 3
    for instance in Instance.objects.filter(series__study=edited):
        assert dcmread(absolute_path(instance.file_path)).PatientID == "OTHER-9"
