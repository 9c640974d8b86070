"""Pages of the DICOMweb endpoints: list, detail (with the last check), add, edit, delete."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse_lazy
from django.views.generic import CreateView, DeleteView, DetailView, ListView, UpdateView

from console.roles import Role, RoleRequiredMixin
from netjobs.forms import MarkedInvalidForm
from netjobs.models import DicomwebEndpoint, Job
from netjobs.operations.dicomweb.check import last_check

ENDPOINT_FIELDSETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Service", ("name", "base_url", "description")),
    ("Authentication", ("auth", "username", "password", "token")),
    ("TLS and timeouts", ("verify_tls", "tls_ca_file", "connect_timeout", "read_timeout")),
)
SECRETS = ("password", "token")


class EndpointForm(MarkedInvalidForm):
    class Meta:
        model = DicomwebEndpoint
        fields = [name for _, names in ENDPOINT_FIELDSETS for name in names]
        widgets = {
            "password": forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            "token": forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            "base_url": forms.URLInput(attrs={"placeholder": "http://pacs:8042/dicom-web"}),
        }

    def _kept(self, name: str) -> str:
        """A secret left empty on an edit keeps its stored value (never shown again)."""
        value: str = self.cleaned_data.get(name) or ""
        if not value and self.instance.pk:
            return str(getattr(self.instance, name))
        return value

    def clean_password(self) -> str:
        return self._kept("password")

    def clean_token(self) -> str:
        return self._kept("token")

    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in ENDPOINT_FIELDSETS]


def with_checks(endpoints: list[DicomwebEndpoint]) -> list[tuple[DicomwebEndpoint, Job | None]]:
    return [(endpoint, last_check(endpoint)) for endpoint in endpoints]


class EndpointListView(RoleRequiredMixin, ListView):
    required_role = Role.VIEWER
    model = DicomwebEndpoint
    template_name = "netjobs/endpoint_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[DicomwebEndpoint]:
        return DicomwebEndpoint.objects.order_by("name")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["endpoint_rows"] = with_checks(list(context["object_list"]))
        return context


class EndpointDetailView(RoleRequiredMixin, DetailView):
    required_role = Role.VIEWER
    model = DicomwebEndpoint
    template_name = "netjobs/endpoint_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["last_check"] = last_check(self.object)
        context["recent_jobs"] = Job.objects.filter(
            params__endpoint=self.object.pk).select_related("owner")[:10]
        return context


class EndpointCreateView(RoleRequiredMixin, CreateView):
    required_role = Role.ADMINISTRATOR
    model = DicomwebEndpoint
    form_class = EndpointForm
    template_name = "netjobs/endpoint_form.html"

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, "DICOMweb endpoint saved.")
        return super().form_valid(form)


class EndpointUpdateView(EndpointCreateView, UpdateView):
    pass


class EndpointDeleteView(RoleRequiredMixin, DeleteView):
    required_role = Role.ADMINISTRATOR
    model = DicomwebEndpoint
    template_name = "netjobs/endpoint_confirm_delete.html"
    success_url = reverse_lazy("netjobs:endpoint_list")

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, f"DICOMweb endpoint {self.object} deleted.")
        return super().form_valid(form)
