"""The dashboard (home page): the view only renders what console.dashboard gathers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.dashboard import build_dashboard
from console.dashboard_chart import bar_chart
from console.roles import Role, role_required


@role_required(Role.VIEWER)
def dashboard(request: HttpRequest) -> HttpResponse:
    data = build_dashboard(request.user)
    return render(request, "console/dashboard.html",
                  {"dashboard": data, "chart": bar_chart(data.per_hour)})
