"""REST endpoints for DICOMweb endpoints (mounted under /api/): Viewers read them, without
their secrets; Administrators add, change and remove them."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import ModelSchema, Router, Schema, Status

from console.api import roles
from console.roles import Role
from netjobs.api import save_validated
from netjobs.models import DicomwebEndpoint, EndpointAuth

router = Router()
ADMINISTRATORS = roles(Role.ADMINISTRATOR)
TAGS = ["dicomweb endpoints"]


class EndpointIn(Schema):
    name: str
    base_url: str
    description: str = ""
    auth: EndpointAuth = EndpointAuth.NONE
    username: str = ""
    password: str = ""
    token: str = ""
    verify_tls: bool = True
    tls_ca_file: str = ""
    connect_timeout: int = 10
    read_timeout: int = 120


class EndpointPatch(Schema):
    name: str | None = None
    base_url: str | None = None
    description: str | None = None
    auth: EndpointAuth | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None
    verify_tls: bool | None = None
    tls_ca_file: str | None = None
    connect_timeout: int | None = None
    read_timeout: int | None = None


class EndpointOut(ModelSchema):
    password_set: bool
    token_set: bool

    class Meta:
        model = DicomwebEndpoint
        exclude = ["password", "token"]  # secrets are for nobody once stored

    @staticmethod
    def resolve_password_set(endpoint: DicomwebEndpoint) -> bool:
        return bool(endpoint.password)

    @staticmethod
    def resolve_token_set(endpoint: DicomwebEndpoint) -> bool:
        return bool(endpoint.token)


def _save(request: HttpRequest, endpoint: DicomwebEndpoint, values: dict[str, Any]) -> Any:
    return save_validated(request, endpoint, values, "name")


@router.get("/dicomweb-endpoints", response=list[EndpointOut], tags=TAGS)
def list_endpoints(request: HttpRequest) -> Any:
    return DicomwebEndpoint.objects.order_by("name")


@router.post("/dicomweb-endpoints", response={201: EndpointOut, 422: dict}, tags=TAGS,
             auth=ADMINISTRATORS)
def create_endpoint(request: HttpRequest, payload: EndpointIn) -> Any:
    saved = _save(request, DicomwebEndpoint(), payload.dict())
    return saved if isinstance(saved, HttpResponse) else Status(201, saved)


@router.get("/dicomweb-endpoints/{endpoint_id}", response=EndpointOut, tags=TAGS)
def get_endpoint(request: HttpRequest, endpoint_id: int) -> DicomwebEndpoint:
    return get_object_or_404(DicomwebEndpoint, pk=endpoint_id)


@router.put("/dicomweb-endpoints/{endpoint_id}", response={200: EndpointOut, 422: dict},
            tags=TAGS, auth=ADMINISTRATORS)
def replace_endpoint(request: HttpRequest, endpoint_id: int, payload: EndpointIn) -> Any:
    return _save(request, get_object_or_404(DicomwebEndpoint, pk=endpoint_id), payload.dict())


@router.patch("/dicomweb-endpoints/{endpoint_id}", response={200: EndpointOut, 422: dict},
              tags=TAGS, auth=ADMINISTRATORS)
def update_endpoint(request: HttpRequest, endpoint_id: int, payload: EndpointPatch) -> Any:
    return _save(request, get_object_or_404(DicomwebEndpoint, pk=endpoint_id),
                 payload.dict(exclude_unset=True))


@router.delete("/dicomweb-endpoints/{endpoint_id}", response={204: None}, tags=TAGS,
               auth=ADMINISTRATORS)
def delete_endpoint(request: HttpRequest, endpoint_id: int) -> Status[None]:
    get_object_or_404(DicomwebEndpoint, pk=endpoint_id).delete()
    return Status(204, None)
