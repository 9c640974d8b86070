"""Diff of two files, scanner over a study / import / folder (with CSV), and dcm2str-style
format patterns."""

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from pydicom import dcmread
from pydicom.uid import UID

from archive.indexing import store_file
from archive.inspect.patterns import BadPattern, apply_pattern, base32, compile_pattern, java_hash
from archive.models import Instance, InstanceSource
from tests.archive_helpers import corpus, import_folder, make_object
from tests.conftest import logged_in


@pytest.fixture
def own_folders(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.INSPECT_DIR = tmp_path / "inspect"


def test_diff_lists_exactly_what_was_changed(db: Any, own_folders: None, viewer: User,
                                             tmp_path: Path) -> None:
    original = store_file(corpus("MR2_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    ds = dcmread(corpus("MR2_UNCI.dcm"))
    ds.PatientName = "Changed^Name"
    del ds.StudyDescription
    ds.AccessionNumber = "NEW123"
    ds.SOPInstanceUID = UID("1.2.3.4.5")
    ds.file_meta.MediaStorageSOPInstanceUID = UID("1.2.3.4.5")
    ds.file_meta.ImplementationVersionName = "OTHER"
    changed_path = tmp_path / "changed.dcm"
    ds.save_as(changed_path)
    changed = store_file(changed_path, source=InstanceSource.UPLOAD).instance
    client = logged_in(viewer)
    page = client.get("/tools/diff/", {"a": f"instance:{original.pk}",
                                       "b": f"instance:{changed.pk}"})
    found = {(d.path, d.kind) for d in page.context["differences"]}
    had_accession = "AccessionNumber" in dcmread(corpus("MR2_UNCI.dcm"))
    expected = {("00100010", "differs"), ("00081030", "only_first"),
                ("00080018", "differs"),
                ("00080050", "differs" if had_accession else "only_second")}
    assert found == expected
    name = next(d for d in page.context["differences"] if d.path == "00100010")
    assert "Changed^Name" in name.second
    with_meta = client.get("/tools/diff/", {"a": f"instance:{original.pk}",
                                            "b": f"instance:{changed.pk}", "meta": "1"})
    paths = {d.path for d in with_meta.context["differences"]}
    assert {"00020003", "00020013"} <= paths
    short = client.get("/tools/diff/", {"a": f"instance:{original.pk}",
                                        "b": f"instance:{changed.pk}", "truncate": "5"})
    assert all(len(d.second.split(" ", 1)[-1]) <= 6 for d in short.context["differences"])


def test_diff_of_someone_elses_upload_is_404(db: Any, own_folders: None, viewer: User,
                                             operator: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    token = logged_in(operator).post("/inspect/", {"file": SimpleUploadedFile(
        "a.dcm", corpus("693_UNCI.dcm").read_bytes())})["Location"].strip("/").split("/")[-1]
    response = logged_in(viewer).get("/tools/diff/", {"a": f"upload:{token}",
                                                      "b": f"upload:{token}"})
    assert response.status_code == 404


def test_scanner_over_a_study_folder_and_csv(db: Any, own_folders: None, viewer: User,
                                             tmp_path: Path) -> None:
    study_uid = "1.2.826.0.1.3680043.8.498.1"
    stored = [store_file(make_object(tmp_path, patient_name=f"Scan^{i}", patient_id="S1",
                                     study_date="20240101", modality="OT", study_uid=study_uid),
                         source=InstanceSource.UPLOAD).instance for i in range(3)]
    study_id = stored[0].series.study_id
    client = logged_in(viewer)
    page = client.get("/tools/scanner/", {"study": str(study_id), "tags": "PatientID 0008,0060 "
                                                                       "SOPInstanceUID"})
    rows = page.context["rows"]
    assert len(rows) == 3
    assert {r.values[2] for r in rows} == {i.sop_instance_uid for i in stored}
    assert all(r.values[:2] == ["S1", "OT"] for r in rows)
    exported = client.get("/tools/scanner/", {"study": str(study_id), "tags": "PatientID",
                                              "format": "csv"})
    table = list(csv.reader(io.StringIO(exported.content.decode())))
    assert table[0] == ["file", "(0010,0020) PatientID", "problem"] and len(table) == 4
    with import_folder() as folder:
        shutil.copyfile(corpus("693_UNCI.dcm"), folder / "a.dcm")
        (folder / "junk.txt").write_text("nope")
        scanned = client.get("/tools/scanner/", {"path": str(folder), "tags": "Modality"})
        by_file = {r.label: r for r in scanned.context["rows"]}
        assert by_file["a.dcm"].values == ["CT"]
        assert by_file["junk.txt"].values == [""]
    refused = client.get("/tools/scanner/", {"path": "/etc", "tags": "Modality"})
    assert "outside the folders allowed" in refused.context["error"]
    bad = client.get("/tools/scanner/", {"study": str(study_id), "tags": "NotAKeyword"})
    assert "neither a tag" in bad.context["error"]


def test_pattern_formats() -> None:
    assert java_hash("hello") == 99162322  # "hello".hashCode() in Java
    digest = bytes(range(16))
    assert int(base32(digest), 32) == int.from_bytes(digest, "big")
    ds = dcmread(corpus("693_UNCI.dcm"))
    parts = compile_pattern("{0020000D,hash}/{PatientID,upper}/{00080018,slice,0,5}"
                            "/{00200013,offset,10}")
    result = apply_pattern(parts, ds, {})
    study_hash = f"{java_hash(ds.StudyInstanceUID):08X}"
    assert result == (f"{study_hash}/{str(ds.PatientID).upper()}/{ds.SOPInstanceUID[:5]}"
                      f"/{int(ds.InstanceNumber) + 10}")
    assert apply_pattern(compile_pattern("{PatientID}"), ds, {0x00100020: "X9"}) == "X9"
    first, second = (apply_pattern(compile_pattern("{rnd,uuid}"), ds, {}) for _ in range(2))
    assert first != second and len(first) == 36
    for bad in ("{NoSuchKeyword}", "{PatientID,bogus}", "{PatientID", "{}"):
        with pytest.raises(BadPattern):
            compile_pattern(bad)


def test_pattern_page_applies_to_a_study(db: Any, own_folders: None, viewer: User,
                                         tmp_path: Path) -> None:
    instance = store_file(corpus("693_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    page = logged_in(viewer).get("/tools/format/", {"study": str(instance.series.study_id),
                                                    "pattern": "{Modality}-{InstanceNumber}"})
    number = dcmread(corpus("693_UNCI.dcm")).InstanceNumber
    assert page.context["results"] == [(Instance.objects.get(), f"CT-{number}")]
    bad = logged_in(viewer).get("/tools/format/", {"study": str(instance.series.study_id),
                                                   "pattern": "{oops"})
    assert "unbalanced" in bad.context["error"]


def test_diff_scanner_and_format_api(db: Any, own_folders: None, viewer: User) -> None:
    from django.test import Client

    from console.tokens import issue_token

    first = store_file(corpus("MR2_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    second = store_file(corpus("693_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    client = Client(headers={"Authorization": f"Bearer {issue_token(viewer, 't').raw}"})
    differences = client.get("/api/diff", {"a": str(first.pk), "b": str(second.pk)}).json()
    modality = next(d for d in differences if d["path"] == "00080060")
    assert (modality["first"], modality["second"]) == ("CS MR", "CS CT")
    scan_json = client.get("/api/scanner", {"tags": "Modality",
                                            "study": str(second.series.study_id)}).json()
    assert scan_json["rows"][0]["values"] == {"(0008,0060) Modality": "CT"}
    scan_csv = client.get("/api/scanner", {"tags": "Modality", "format": "csv",
                                           "study": str(second.series.study_id)})
    assert scan_csv["Content-Type"] == "text/csv" and b",CT," in scan_csv.content
    assert client.get("/api/scanner", {"tags": "Modality", "path": "/etc"}).status_code == 422
    formatted = client.get("/api/format", {"pattern": "{Modality,upper}",
                                           "instance": str(first.pk)}).json()
    assert formatted == [{"instance": first.pk, "result": "MR"}]
    assert client.get("/api/format", {"pattern": "{", "instance": str(first.pk)}
                      ).status_code == 422
