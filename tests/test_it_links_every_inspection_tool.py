"""Every inspect page of an archived instance has the breadcrumbs Archive › Patient › Study ›
Series › Instance › tool, named by DICOM identity, and links to every other tool and back to
the instance page; an uploaded file's pages say "Inspect a file › <its name>". The raw values
page lists binary values and fragments, each downloadable as stored."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom import dcmread
from pydicom.encaps import generate_fragments

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from tests.archive_helpers import corpus
from tests.conftest import logged_in

TOOLS = {"": "Dump", "json/": "DICOM JSON", "xml/": "Native XML", "raw/": "Raw values",
         "info/": "Info", "validate/": "Validate", "render/": "Render"}


@pytest.fixture
def own_folders(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.INSPECT_DIR = tmp_path / "inspect"


def crumbs(response: Any) -> list[tuple[str, str]]:
    return [(c.label, c.url) for c in response.context["crumbs"]]


def test_instance_pages_have_crumbs_and_tabs(db: Any, own_folders: None,
                                             viewer: User) -> None:
    instance = store_file(corpus("MR2_J2KR.dcm"), source=InstanceSource.UPLOAD).instance
    instance = Instance.objects.select_related("series__study__patient").get(pk=instance.pk)
    series, study = instance.series, instance.series.study
    client = logged_in(viewer)
    base = f"/inspect/instance/{instance.pk}/"
    for suffix, label in TOOLS.items():
        response = client.get(base + suffix)
        assert response.status_code == 200, suffix
        assert [c[0] for c in crumbs(response)] == [
            "Archive", study.patient.title, study.title, series.title, instance.title, label]
        assert crumbs(response)[4][1] == instance.get_absolute_url()
        assert crumbs(response)[-1][1] == ""  # the current page
        body = response.content.decode()
        for other in TOOLS:
            assert f'href="{base}{other}"' in body, (suffix, other)
        assert f'href="{instance.get_absolute_url()}"' in body
        assert re.search(r"<h1>\s*Instance \d+ · ", body)
        assert f"#{instance.pk}" not in response.context["source"].title


def test_uploaded_file_pages_name_the_file(db: Any, own_folders: None, viewer: User) -> None:
    client = logged_in(viewer)
    posted = client.post("/inspect/", {"file": SimpleUploadedFile(
        "knee scan.dcm", corpus("MR2_UNCI.dcm").read_bytes())})
    url = posted["Location"]
    for suffix, label in TOOLS.items():
        response = client.get(url + suffix)
        assert response.status_code == 200, suffix
        assert crumbs(response) == [("Inspect a file", "/inspect/"), ("knee scan.dcm", url),
                                    (label, "")]


def test_raw_values_page_lists_binary_values_and_fragments(db: Any, own_folders: None,
                                                          viewer: User) -> None:
    instance = store_file(corpus("OBXXXX1A_rle_2frame.dcm"),
                          source=InstanceSource.UPLOAD).instance
    client = logged_in(viewer)
    page = client.get(f"/inspect/instance/{instance.pk}/raw/")
    rows = page.context["rows"]
    fragments = [r for r in rows if r.kind == "fragment"]
    stored = generate_fragments(dcmread(corpus("OBXXXX1A_rle_2frame.dcm")).PixelData)
    expected = [f for f in stored if f]  # an empty Basic Offset Table has nothing to download
    assert len(fragments) == len(expected) >= 2
    assert page.context["encapsulated"] == ["7FE00010"]
    links = re.findall(r'href="(/inspect/instance/\d+/value\?path=7FE00010&amp;fragment=\d+)"',
                       page.content.decode())
    assert len(links) == len(expected)
    last = client.get(links[-1].replace("&amp;", "&"))
    assert last.content == expected[-1]
    assert "fragments=zip" in page.content.decode()
