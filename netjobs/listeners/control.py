"""Start, stop and restart requests: the manager in the listener worker carries them out
within a second (it polls the desired state)."""

from __future__ import annotations

from enum import StrEnum

from django.utils import timezone

from netjobs.models import DesiredState, Listener, ListenerStatus


class ListenerAction(StrEnum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"


def request_action(listener: Listener, action: ListenerAction) -> Listener:
    now = timezone.now()
    if action == ListenerAction.STOP:
        Listener.objects.filter(pk=listener.pk).update(desired_state=DesiredState.STOPPED)
    elif action == ListenerAction.START:
        Listener.objects.filter(pk=listener.pk).update(desired_state=DesiredState.RUNNING,
                                                       restart_requested_at=now)
    else:
        Listener.objects.filter(pk=listener.pk).update(desired_state=DesiredState.RUNNING,
                                                       restart_requested_at=now)
        if listener.status == ListenerStatus.FAILED:
            Listener.objects.filter(pk=listener.pk).update(status=ListenerStatus.STARTING)
    listener.refresh_from_db()
    return listener
