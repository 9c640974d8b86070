"""The Convert… menu of study, series and instance pages: one link per conversion kind to its
form, prefilled with the page's object (the form then shows that object as chosen, as the
picker describes it); Operators only. An instance page says what it was converted from and
which conversions of it the archive holds."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User

from archive.conversions.jobs.names import CONVERSION_KINDS
from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from archive.pickers import PickLevel, choices_for
from netjobs.models import Job, JobStatus
from tests.archive_helpers import corpus
from tests.conftest import logged_in
from tests.test_it_shows_the_conversions_dashboard import parse


@pytest.fixture
def own_storage(settings: Any, tmp_path: Path) -> Path:
    settings.STORAGE_ROOT = tmp_path / "storage"
    return tmp_path


def menu_links(user: User, url: str) -> dict[str, dict[str, list[str]]]:
    """kind → query of each link in the page's Convert menu."""
    response = logged_in(user).get(url)
    assert response.status_code == 200
    links = {}
    for anchor in parse(response.content.decode()).links_in(".convert-menu"):
        parts = urlsplit(anchor.href)
        if parts.path.startswith("/jobs/new/"):
            links[parts.path.removeprefix("/jobs/new/").strip("/")] = parse_qs(parts.query)
    return links


def test_each_page_links_every_kind_prefilled_with_its_object(
        own_storage: Path, operator: User, viewer: User) -> None:
    instance = store_file(corpus("MR2_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    series, study = instance.series, instance.series.study
    pages = ((study.get_absolute_url(), "studies", study, PickLevel.STUDY),
             (series.get_absolute_url(), "series", series, PickLevel.SERIES),
             (instance.get_absolute_url(), "instances", instance, PickLevel.INSTANCE))
    client = logged_in(operator)
    for url, name, obj, level in pages:
        links = menu_links(operator, url)
        assert set(links) == set(CONVERSION_KINDS), url
        assert all(query == {name: [str(obj.pk)]} for query in links.values()), links
        chosen = escape(choices_for(level, [obj])[0].summary)
        for kind in CONVERSION_KINDS:
            form = client.get(f"/jobs/new/{kind}/?{name}={obj.pk}")
            assert form.status_code == 200, (kind, url)
            assert chosen in form.content.decode(), (kind, url)  # shown as chosen
        assert menu_links(viewer, url) == {}, url  # viewers cannot start jobs


def test_an_instance_page_links_its_source_and_its_conversions(
        own_storage: Path, viewer: User, operator: User) -> None:
    source = store_file(corpus("693_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    converted = store_file(corpus("693_J2KR.dcm"), source=InstanceSource.UPLOAD).instance
    assert converted.pk != source.pk
    job = Job.objects.create(kind="transcode", status=JobStatus.SUCCEEDED, owner=operator,
                             summary="Transcode 1 instance to JPEG 2000 Lossless")
    Instance.objects.filter(pk=converted.pk).update(
        derived_from=source, source=InstanceSource.CONVERSION, source_job=job)
    client = logged_in(viewer)

    page = parse(client.get(converted.get_absolute_url()).content.decode())
    origin = page.links_in(".derived-from")
    assert [a.href for a in origin] == [source.get_absolute_url()]
    assert {a.href for a in page.anchors} >= {job.get_absolute_url()}

    page = parse(client.get(source.get_absolute_url()).content.decode())
    conversions = {a.href for a in page.links_in(".derived")}
    assert conversions == {converted.get_absolute_url(), job.get_absolute_url()}

    Instance.objects.filter(pk=converted.pk).update(derived_from=None)
    html = client.get(source.get_absolute_url()).content.decode()
    assert not parse(html).links_in(".derived") and "Conversions of this instance" not in html
