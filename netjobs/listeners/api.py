"""REST endpoints of the listeners (mounted under /api/)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import ModelSchema, Router, Schema, Status
from pydantic import ConfigDict, Field

from console.api import field_errors_response, roles
from console.roles import Role
from netjobs.listeners.control import ListenerAction, request_action
from netjobs.models import Listener

router = Router(tags=["listeners"])
EDITABLE = ["name", "ae_title", "bind_address", "port", "verification", "storage",
            "query_retrieve", "mpps", "instance_availability", "storage_commitment",
            "accept_private_sop_classes", "transfer_syntaxes",
            "calling_policy", "require_called_ae_title", "duplicate_policy",
            "max_associations", "max_pdu", "acse_timeout", "dimse_timeout", "network_timeout",
            "tls_enabled", "tls_cert_file", "tls_key_file", "tls_ca_file",
            "tls_require_client_certificate", "enabled"]


class ListenerOut(ModelSchema):
    tls_key_configured: bool

    class Meta:
        model = Listener
        # a server-side key path is not for every Viewer (as for AEs)
        fields = [*[f for f in EDITABLE if f != "tls_key_file"], "id", "status",
                  "desired_state", "last_error", "bound_address", "owner", "heartbeat_at",
                  "started_at"]

    @staticmethod
    def resolve_tls_key_configured(listener: Listener) -> bool:
        return bool(listener.tls_key_file)


class ListenerIn(Schema):
    name: str
    ae_title: str
    port: int
    bind_address: str = "127.0.0.1"
    verification: bool = True
    storage: bool = True
    query_retrieve: bool = True
    mpps: bool = False
    instance_availability: bool = False
    storage_commitment: bool = False
    accept_private_sop_classes: bool = False
    transfer_syntaxes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Accepted transfer syntax UIDs per service (verification, storage, "
                    "query_retrieve, mpps, instance_availability, storage_commitment); "
                    "a service left out takes the defaults")
    tls_enabled: bool = False
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_ca_file: str = ""
    tls_require_client_certificate: bool = False
    calling_policy: str = "any"
    require_called_ae_title: bool = True
    duplicate_policy: str = "keep"
    max_associations: int = 10
    max_pdu: int = 131072
    acse_timeout: int = 30
    dimse_timeout: int = 60
    network_timeout: int = 60
    enabled: bool = True


class ListenerPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    ae_title: str | None = None
    port: int | None = None
    bind_address: str | None = None
    verification: bool | None = None
    storage: bool | None = None
    calling_policy: str | None = None
    require_called_ae_title: bool | None = None
    duplicate_policy: str | None = None
    max_associations: int | None = None
    max_pdu: int | None = None
    query_retrieve: bool | None = None
    mpps: bool | None = None
    instance_availability: bool | None = None
    storage_commitment: bool | None = None
    accept_private_sop_classes: bool | None = None
    transfer_syntaxes: dict[str, list[str]] | None = None
    tls_enabled: bool | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_ca_file: str | None = None
    tls_require_client_certificate: bool | None = None
    acse_timeout: int | None = None
    dimse_timeout: int | None = None
    network_timeout: int | None = None
    enabled: bool | None = None


def _save(request: HttpRequest, listener: Listener, values: dict[str, Any]) -> Any:
    for name, value in values.items():
        if value is None:
            return field_errors_response(request, [{"loc": ["body", "payload", name],
                                                     "msg": "may not be null",
                                                     "type": "value_error"}])
        setattr(listener, name, value)
    try:
        listener.full_clean()
    except ValidationError as exc:
        return field_errors_response(request, [
            {"loc": ["body", "payload", field], "msg": message, "type": "value_error"}
            for field, messages in exc.message_dict.items() for message in messages])
    listener.save()
    return listener


@router.get("/listeners", response=list[ListenerOut])
def list_listeners(request: HttpRequest) -> Any:
    return Listener.objects.all()


@router.post("/listeners", response={201: ListenerOut, 422: dict},
             auth=roles(Role.ADMINISTRATOR))
def create_listener(request: HttpRequest, payload: ListenerIn) -> Any:
    result = _save(request, Listener(), payload.dict())
    return result if isinstance(result, HttpResponse) else Status(201, result)


@router.get("/listeners/{listener_id}", response=ListenerOut)
def get_listener(request: HttpRequest, listener_id: int) -> Listener:
    return get_object_or_404(Listener, pk=listener_id)


@router.patch("/listeners/{listener_id}", response={200: ListenerOut, 422: dict},
              auth=roles(Role.ADMINISTRATOR))
def update_listener(request: HttpRequest, listener_id: int, payload: ListenerPatch) -> Any:
    listener = get_object_or_404(Listener, pk=listener_id)
    result = _save(request, listener, payload.dict(exclude_unset=True))
    if isinstance(result, Listener):
        request_action(result, ListenerAction.RESTART)
    return result


@router.delete("/listeners/{listener_id}", response={204: None},
               auth=roles(Role.ADMINISTRATOR))
def delete_listener(request: HttpRequest, listener_id: int) -> Status[None]:
    get_object_or_404(Listener, pk=listener_id).delete()
    return Status(204, None)


@router.post("/listeners/{listener_id}/{action}", response=ListenerOut,
             auth=roles(Role.OPERATOR))
def control_listener(request: HttpRequest, listener_id: int, action: ListenerAction) -> Any:
    """start, stop or restart; the listener worker acts on it within a second."""
    return request_action(get_object_or_404(Listener, pk=listener_id), action)
