"""Pages of the listeners."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DeleteView, DetailView, ListView, UpdateView
from pydicom.uid import UID

from console.roles import Role, RoleRequiredMixin, role_required
from netjobs.association_views import association_rows, monitor_url
from netjobs.listeners.control import ListenerAction, request_action
from netjobs.listeners.forms import ListenerForm
from netjobs.listeners.services import accepted_syntaxes, default_syntaxes, offered_services
from netjobs.models import DesiredState, Listener, ListenerStatus

LATEST_ASSOCIATIONS = 20


def available_actions(listener: Listener) -> list[ListenerAction]:
    """The actions that make sense in the listener's state, in the order shown."""
    if listener.desired_state == DesiredState.STOPPED:
        return [ListenerAction.START]
    if listener.status == ListenerStatus.FAILED:
        return [ListenerAction.RESTART, ListenerAction.STOP]
    if listener.status in (ListenerStatus.RUNNING, ListenerStatus.STARTING):
        return [ListenerAction.STOP, ListenerAction.RESTART]
    return [ListenerAction.STOP]  # wanted running, not yet hosted by the listener worker


def status_context(listener: Listener) -> dict[str, Any]:
    return {"listener": listener, "actions": [a.value for a in available_actions(listener)]}


def describe_services(listener: Listener) -> list[dict[str, Any]]:
    """Each offered service with the transfer syntaxes it accepts, for the detail page."""
    rows = []
    for service in offered_services(listener):
        uids = accepted_syntaxes(listener, service)
        rows.append({
            "label": service.label,
            "default": sorted(uids) == sorted(default_syntaxes(service)),
            "syntaxes": [UID(uid).name for uid in uids],
        })
    return rows


class ListenerListView(RoleRequiredMixin, ListView):
    required_role = Role.VIEWER
    model = Listener
    template_name = "netjobs/listener_list.html"


class ListenerDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = Listener
    template_name = "netjobs/listener_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        listener = self.object
        context.update(status_context(listener))
        context.update(
            associations=association_rows(listener.associations.all())[:LATEST_ASSOCIATIONS],
            association_count=listener.associations.count(),
            monitor_url=monitor_url(listener=listener.pk),
            services=describe_services(listener))
        return context


class ListenerCreateView(RoleRequiredMixin, CreateView):
    required_role = Role.ADMINISTRATOR
    model = Listener
    form_class = ListenerForm
    template_name = "netjobs/listener_form.html"


class ListenerUpdateView(ListenerCreateView, UpdateView):
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        assert self.object is not None
        request_action(self.object, ListenerAction.RESTART)  # settings take effect on restart
        messages.success(self.request, "Saved; the listener restarts with the new settings.")
        return response


class ListenerDeleteView(RoleRequiredMixin, DeleteView):
    required_role = Role.ADMINISTRATOR
    model = Listener
    template_name = "netjobs/listener_confirm_delete.html"
    success_url = reverse_lazy("netjobs:listener_list")


@role_required(Role.VIEWER)
def listener_status(request: HttpRequest, pk: int) -> HttpResponse:
    listener = get_object_or_404(Listener, pk=pk)
    return render(request, "netjobs/_listener_status.html", status_context(listener))


@require_POST
@role_required(Role.OPERATOR)
def listener_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    listener = get_object_or_404(Listener, pk=pk)
    try:
        chosen = ListenerAction(action)
    except ValueError:
        return HttpResponse("unknown action", status=404)
    request_action(listener, chosen)
    messages.success(request, f"{chosen.value.capitalize()} requested.")
    return redirect(listener)
