"""REST endpoints of de-identification (mounted under /api/): the projects Operators choose
from, and a project's pseudonym mapping table (Administrators only: it links pseudonyms back
to the original Patient IDs and Names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from archive.deid.models import DeidProject
from console.api import roles
from console.roles import Role

router = Router(tags=["De-identification"])


class DeidProjectOut(Schema):
    id: int
    name: str
    description: str
    has_certificate: bool
    pseudonyms: int

    @staticmethod
    def resolve_has_certificate(project: DeidProject) -> bool:
        return bool(project.certificate_pem.strip())

    @staticmethod
    def resolve_pseudonyms(project: DeidProject) -> int:
        return int(getattr(project, "pseudonym_count", 0))


class PseudonymOut(Schema):
    original_patient_id: str
    original_patient_name: str
    pseudonym_id: str
    pseudonym_name: str
    origin: str
    created_at: dt.datetime


@router.get("/deid/projects", response=list[DeidProjectOut], auth=roles(Role.OPERATOR))
def list_projects(request: HttpRequest) -> Any:
    return DeidProject.objects.annotate(pseudonym_count=Count("pseudonyms")).order_by("name")


@router.get("/deid/projects/{project_id}/pseudonyms", response=list[PseudonymOut],
            auth=roles(Role.ADMINISTRATOR))
@paginate(LimitOffsetPagination)
def list_pseudonyms(request: HttpRequest, project_id: int) -> Any:
    project = get_object_or_404(DeidProject, pk=project_id)
    return project.pseudonyms.order_by("original_patient_id")
