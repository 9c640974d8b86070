"""The association monitor: every association, inbound and outbound, as a compact paged table
whose rows expand to the full record."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from console.roles import Role, role_required
from netjobs.association_filters import AssociationFilterSet
from netjobs.models import Association, PresentationContext

PAGE_SIZE = getattr(settings, "ASSOCIATIONS_PAGE_SIZE", 50)
# The columns of a row; the full record (contexts, DIMSE messages, explanation) is loaded
# only when a row is expanded.
ROW_FIELDS = ("pk", "role", "outcome", "calling_ae_title", "called_ae_title", "peer_host",
              "peer_port", "tls", "started_at", "ended_at", "bytes_sent", "bytes_received",
              "dimse_messages_total", "dimse_failures", "job_id", "listener_id")


def association_rows(queryset: QuerySet[Association]) -> QuerySet[Association]:
    """Newest first, only the columns the table shows, with the listener's name."""
    return (queryset.order_by("-started_at", "-pk").select_related("listener")
            .only(*ROW_FIELDS, "listener__name"))


def full_record(pk: int) -> Association:
    """One association with its contexts and DIMSE messages, as _association.html shows it."""
    contexts = Prefetch("presentation_contexts",
                        queryset=PresentationContext.objects.order_by("context_id"))
    queryset = Association.objects.prefetch_related(contexts, "dimse_messages")
    return get_object_or_404(queryset, pk=pk)


def monitor_url(**params: Any) -> str:
    """/associations/ with the given filters (e.g. ``listener=3``)."""
    from urllib.parse import urlencode

    return f"{reverse('netjobs:association_list')}?{urlencode(params)}"


@role_required(Role.VIEWER)
def association_list(request: HttpRequest) -> HttpResponse:
    filterset = AssociationFilterSet(request.GET, queryset=Association.objects.all())
    valid = filterset.is_valid()
    for name in filterset.form.errors:
        if name in filterset.form.fields:
            filterset.form.fields[name].widget.attrs["aria-invalid"] = "true"
    rows = association_rows(filterset.qs if valid else Association.objects.none())
    page: Page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "netjobs/association_list.html", {
        "filter": filterset, "form": filterset.form, "filter_valid": valid,
        "page_obj": page, "associations": page.object_list,
        "filtered": any(v for k, v in request.GET.items() if k != "page"),
    })


@role_required(Role.VIEWER)
def association_record(request: HttpRequest, pk: int) -> HttpResponse:
    """The full record of one association (expanded under its row)."""
    return render(request, "netjobs/_association.html", {"assoc": full_record(pk)})
