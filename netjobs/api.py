"""REST endpoints for Application Entities (mounted under /api/); jobs are in jobs/api.py."""


from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import ModelSchema, Router, Schema, Status

from console.api import field_errors_response, roles
from console.roles import Role
from netjobs.models import AEKind, ApplicationEntity

router = Router()
ADMINISTRATORS = roles(Role.ADMINISTRATOR)

# --- Application Entities ---------------------------------------------------------------


class AEIn(Schema):
    kind: AEKind = AEKind.REMOTE
    ae_title: str
    host: str
    port: int
    description: str = ""
    max_pdu: int = 131072
    connect_timeout: int = 10
    acse_timeout: int = 30
    dimse_timeout: int = 60
    network_timeout: int = 60
    accepts_move_destination: bool = False
    tls_enabled: bool = False
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_verify_peer: bool = True
    identity_username: str = ""
    identity_password: str = ""


class AEPatch(Schema):
    kind: AEKind | None = None
    ae_title: str | None = None
    host: str | None = None
    port: int | None = None
    description: str | None = None
    max_pdu: int | None = None
    connect_timeout: int | None = None
    acse_timeout: int | None = None
    dimse_timeout: int | None = None
    network_timeout: int | None = None
    accepts_move_destination: bool | None = None
    tls_enabled: bool | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_verify_peer: bool | None = None
    identity_username: str | None = None
    identity_password: str | None = None


class AEOut(ModelSchema):
    tls_key_configured: bool
    identity_password_set: bool

    class Meta:
        model = ApplicationEntity
        # a server-side key path is not for every Viewer; a password is for nobody
        exclude = ["tls_key_file", "identity_password"]

    @staticmethod
    def resolve_identity_password_set(ae: ApplicationEntity) -> bool:
        return bool(ae.identity_password)

    @staticmethod
    def resolve_tls_key_configured(ae: ApplicationEntity) -> bool:
        return bool(ae.tls_key_file)


def save_validated(request: HttpRequest, obj: Model, values: dict[str, Any],
                   whole_field: str) -> Any:
    """``values`` set on ``obj``, validated by the model and saved; a 422 with the field
    errors otherwise (model-wide errors reported on ``whole_field``)."""
    nulls = [name for name, value in values.items() if value is None]
    if nulls:
        return field_errors_response(
            request,
            [
                {"loc": ["body", "payload", name], "msg": "may not be null", "type": "value_error"}
                for name in nulls
            ],
        )
    for name, value in values.items():
        setattr(obj, name, value)
    try:
        obj.full_clean()
    except ValidationError as exc:
        errors = [
            {
                "loc": ["body", "payload", field if field != "__all__" else whole_field],
                "msg": message,
                "type": "value_error",
            }
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
        return field_errors_response(request, errors)
    obj.save()
    return obj


def _save_ae(request: HttpRequest, ae: ApplicationEntity, values: dict[str, Any]) -> Any:
    return save_validated(request, ae, values, "ae_title")


@router.get("/aes", response=list[AEOut], tags=["aes"])
def list_aes(request: HttpRequest, kind: AEKind | None = None) -> Any:
    queryset = ApplicationEntity.objects.all()
    return queryset.filter(kind=kind) if kind else queryset


@router.post("/aes", response={201: AEOut, 422: dict}, tags=["aes"], auth=ADMINISTRATORS)
def create_ae(request: HttpRequest, payload: AEIn) -> Any:
    result = _save_ae(request, ApplicationEntity(), payload.dict())
    return result if isinstance(result, HttpResponse) else Status(201, result)


@router.get("/aes/{ae_id}", response=AEOut, tags=["aes"])
def get_ae(request: HttpRequest, ae_id: int) -> ApplicationEntity:
    return get_object_or_404(ApplicationEntity, pk=ae_id)


@router.put("/aes/{ae_id}", response={200: AEOut, 422: dict}, tags=["aes"], auth=ADMINISTRATORS)
def replace_ae(request: HttpRequest, ae_id: int, payload: AEIn) -> Any:
    return _save_ae(request, get_object_or_404(ApplicationEntity, pk=ae_id), payload.dict())


@router.patch("/aes/{ae_id}", response={200: AEOut, 422: dict}, tags=["aes"], auth=ADMINISTRATORS)
def update_ae(request: HttpRequest, ae_id: int, payload: AEPatch) -> Any:
    ae = get_object_or_404(ApplicationEntity, pk=ae_id)
    return _save_ae(request, ae, payload.dict(exclude_unset=True))


@router.delete("/aes/{ae_id}", response={204: None}, tags=["aes"], auth=ADMINISTRATORS)
def delete_ae(request: HttpRequest, ae_id: int) -> Status[None]:
    get_object_or_404(ApplicationEntity, pk=ae_id).delete()
    return Status(204, None)
