"""The listener page offers only the actions that make sense in the listener's state (Stop
asks first), and the listener form comes in fieldsets with units and checkbox lists, its
errors summarised at the top."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from netjobs.models import DesiredState, Listener, ListenerStatus
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


def actions(user: User, listener: Listener) -> list[str]:
    page = logged_in(user).get(f"/listeners/{listener.pk}/status/").content.decode()
    return re.findall(r'data-action="(\w+)"', page)


@pytest.mark.parametrize(("desired", "status", "shown"), [
    (DesiredState.STOPPED, ListenerStatus.STOPPED, ["start"]),
    (DesiredState.RUNNING, ListenerStatus.RUNNING, ["stop", "restart"]),
    (DesiredState.RUNNING, ListenerStatus.STARTING, ["stop", "restart"]),
    (DesiredState.RUNNING, ListenerStatus.FAILED, ["restart", "stop"]),
    (DesiredState.RUNNING, ListenerStatus.STOPPED, ["stop"]),
])
def test_only_the_actions_of_the_state_are_offered(operator: User, desired: str, status: str,
                                                   shown: list[str]) -> None:
    listener = Listener.objects.create(name="main", ae_title="CONSOLE", port=11112,
                                       desired_state=desired, status=status)
    assert actions(operator, listener) == shown
    detail = logged_in(operator).get(f"/listeners/{listener.pk}/").content.decode()
    assert re.findall(r'data-action="(\w+)"', detail) == shown
    if "stop" in shown:
        assert 'data-confirm="Stop listener main (CONSOLE on port 11112)?' in detail


def test_a_viewer_sees_no_action(viewer: User) -> None:
    listener = Listener.objects.create(name="main", ae_title="CONSOLE", port=11112,
                                       status=ListenerStatus.RUNNING)
    assert actions(viewer, listener) == []


def test_the_form_has_fieldsets_units_checkboxes_and_an_error_summary(
        administrator: User) -> None:
    client = logged_in(administrator)
    form = client.get("/listeners/new/").content.decode()
    legends = re.findall(r"<legend>([^<]+)</legend>", form)
    assert legends == ["Identity", "Network", "Services", "Security (TLS)", "Limits",
                       "Transfer syntaxes"]
    assert "DIMSE timeout (seconds)" in form and "Max PDU length (bytes)" in form
    assert '<select name="syntaxes_storage"' not in form
    assert re.search(r'<input type="checkbox" name="syntaxes_storage" value="1\.2\.840\.'
                     r'10008\.1\.2\.1"', form)
    refused = client.post("/listeners/new/", {"name": "", "ae_title": "BAD\\AE", "port": "0",
                                              "dimse_timeout": "soon"}).content.decode()
    summary = refused[refused.index('class="form-errors"'):refused.index("</div>",
                                                                       refused.index(
                                                                           "form-errors"))]
    assert "Please correct the following" in summary
    for label in ("Name", "AE title", "Port", "DIMSE timeout (seconds)"):
        assert f">{label}</a>:" in summary, label
    assert not Listener.objects.exists()
