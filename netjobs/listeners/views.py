"""Pages of the listeners."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DeleteView, DetailView, ListView, UpdateView
from pydicom.uid import UID

from console.roles import Role, RoleRequiredMixin, role_required
from netjobs.listeners.control import ListenerAction, request_action
from netjobs.listeners.services import (
    ListenerService,
    accepted_syntaxes,
    default_syntaxes,
    offered_services,
    syntax_choices,
)
from netjobs.models import Listener

FIELDS = ["name", "ae_title", "bind_address", "port", "verification", "storage",
          "query_retrieve", "mpps", "instance_availability", "storage_commitment",
          "accept_private_sop_classes",
          "calling_policy", "require_called_ae_title", "duplicate_policy", "max_associations",
          "max_pdu", "acse_timeout", "dimse_timeout", "network_timeout",
          "tls_enabled", "tls_cert_file", "tls_key_file", "tls_ca_file",
          "tls_require_client_certificate", "enabled"]


def syntax_field_name(service: ListenerService) -> str:
    return f"syntaxes_{service.value}"


class ListenerForm(forms.ModelForm):
    """The listener's settings, with one transfer syntax list per service."""

    class Meta:
        model = Listener
        fields = FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for service in ListenerService:
            self.fields[syntax_field_name(service)] = forms.MultipleChoiceField(
                label=f"{service.label}: accepted transfer syntaxes",
                choices=syntax_choices(), required=True,
                initial=accepted_syntaxes(self.instance, service),
                widget=forms.SelectMultiple(attrs={"size": 6}),
                help_text="Ctrl-click to choose several. Default: "
                          + ("every syntax the archive can store."
                             if service == ListenerService.STORAGE
                             else "the uncompressed syntaxes."),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chosen: dict[str, list[str]] = {}
        for service in ListenerService:
            uids = cleaned.get(syntax_field_name(service))
            if uids and sorted(uids) != sorted(default_syntaxes(service)):
                chosen[service.value] = list(uids)
        self.instance.transfer_syntaxes = chosen
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"


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
        associations: QuerySet[Any] = self.object.associations.order_by("-started_at")
        calling = self.request.GET.get("calling", "").strip()
        if calling:
            associations = associations.filter(calling_ae_title__icontains=calling)
        context.update(associations=associations[:50], calling=calling,
                       services=describe_services(self.object))
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
    return render(request, "netjobs/_listener_status.html", {"listener": listener})


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
