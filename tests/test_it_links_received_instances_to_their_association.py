"""An instance a listener received names the calling AE on its page, linked to the record
of the inbound association that brought it (DCMTK's dcmsend as the sender)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from pydicom import dcmread

from archive.indexing import store_file
from archive.models import Instance, InstanceSource
from netjobs.listeners.manager import ListenerManager
from netjobs.models import ListenerStatus
from tests.archive_helpers import corpus
from tests.conftest import logged_in
from tests.listener_helpers import dcmtk, make_listener, settled

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_source_ae_links_to_its_association(manager: ListenerManager,
                                                viewer: User) -> None:
    listener = make_listener()
    manager.reconcile()
    listener.refresh_from_db()
    assert listener.status == ListenerStatus.RUNNING, listener.last_error
    path = corpus("MR2_J2KR.dcm")
    sent = dcmtk("dcmsend", "-aet", "MODALITY7", "-aec", "CONSOLE", "127.0.0.1",
                 str(listener.port), str(path))
    assert sent.returncode == 0, sent.stderr
    settled(listener, 1)
    uid = dcmread(path, stop_before_pixels=True).SOPInstanceUID
    instance = Instance.objects.select_related("received_association").get(sop_instance_uid=uid)
    association = instance.received_association
    assert association is not None
    assert association.listener_id == listener.pk
    assert association.calling_ae_title == "MODALITY7"
    assert association.dimse_messages.filter(command="C-STORE-RQ",
                                             affected_sop_instance_uid=uid).exists()

    page = logged_in(viewer).get(instance.get_absolute_url()).content.decode()
    start = page.index('class="source-ae"')
    anchor = page[page.rindex("<a ", 0, start):page.index("</a>", start)]
    assert anchor.endswith(">MODALITY7")
    href = anchor.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    link = urlsplit(href)
    assert link.fragment == f"association-{association.pk}"
    query = parse_qs(link.query)
    if query:  # the association monitor, filtered down to this association's second
        assert query["ae"] == ["MODALITY7"] and query["listener"] == [str(listener.pk)]


def test_an_imported_instance_names_no_association(viewer: User) -> None:
    instance = store_file(corpus("693_UNCI.dcm"), source=InstanceSource.UPLOAD).instance
    assert instance.received_association is None
    page = logged_in(viewer).get(instance.get_absolute_url()).content.decode()
    assert 'class="source-ae"' not in page and "Browser upload" in page
