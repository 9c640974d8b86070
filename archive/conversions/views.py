"""The Conversions page: the dashboard of the conversion jobs (archive.conversions.dashboard
gathers it; the view only renders), and its live part that htmx polls while jobs run."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from archive.conversions.dashboard import build_board, new_job_links
from console.roles import Role, role_required


@role_required(Role.VIEWER)
def conversions(request: HttpRequest) -> HttpResponse:
    return render(request, "archive/conversions.html",
                  {"board": build_board(), "new_links": new_job_links()})


@role_required(Role.VIEWER)
def conversions_live(request: HttpRequest) -> HttpResponse:
    """The part of the page that changes while conversion jobs run."""
    return render(request, "archive/_conversions_live.html", {"board": build_board()})
