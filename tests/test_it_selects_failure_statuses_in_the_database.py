"""The database filter for failed DIMSE responses (dashboard counts) selects exactly the codes
pynetdicom's code_to_category calls failures: every code below 0x1000, the edges of the
0xAxxx/0xBxxx/0xCxxx ranges, and the pending, cancel and success codes."""

import pytest
from django.utils import timezone
from pynetdicom import status as pnd_status

from netjobs.dicom.status import failure_status_q
from netjobs.models import Association, AssociationOutcome, AssociationRole, DimseMessage

EDGES = [0x9FFF, 0xA000, 0xA700, 0xA801, 0xAFFF, 0xB000, 0xBFFF, 0xC000, 0xC311, 0xCFFF,
         0xD000, 0xFE00, 0xFF00, 0xFF01, 0xFFFF]


@pytest.mark.django_db
def test_the_filter_matches_pynetdicoms_classification() -> None:
    association = Association.objects.create(
        role=AssociationRole.ACCEPTOR, outcome=AssociationOutcome.RELEASED,
        calling_ae_title="SCU", called_ae_title="CONSOLE", peer_host="127.0.0.1",
        peer_port=40000, started_at=timezone.now())
    codes = [*range(0x1000), *EDGES]
    now = timezone.now()
    DimseMessage.objects.bulk_create(
        DimseMessage(association=association, at=now, direction="sent",
                     command="C-STORE-RSP", status=code) for code in codes)
    selected = set(DimseMessage.objects.filter(failure_status_q())
                   .values_list("status", flat=True))
    expected = {code for code in codes
                if pnd_status.code_to_category(code) == pnd_status.STATUS_FAILURE}
    assert selected == expected
    assert {0x0110, 0xA700, 0xC000} <= selected and not {0x0107, 0xB000, 0xFF00} & selected
