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

from console.roles import Role, RoleRequiredMixin, role_required
from netjobs.listeners.control import ListenerAction, request_action
from netjobs.models import Listener

FIELDS = ["name", "ae_title", "bind_address", "port", "verification", "storage",
          "query_retrieve",
          "calling_policy", "require_called_ae_title", "duplicate_policy", "max_associations",
          "max_pdu", "acse_timeout", "dimse_timeout", "network_timeout", "enabled"]


class ListenerForm(forms.ModelForm):
    class Meta:
        model = Listener
        fields = FIELDS

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"


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
        context.update(associations=associations[:50], calling=calling)
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
