"""The services a listener offers, the SOP classes behind each, and the transfer syntaxes
each accepts (configurable per service, with defaults)."""

from __future__ import annotations

from enum import StrEnum

from pydicom.uid import (
    UID,
    AllTransferSyntaxes,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AllStoragePresentationContexts
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    InstanceAvailabilityNotification,
    ModalityPerformedProcedureStep,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from netjobs.models import Listener


class ListenerService(StrEnum):
    VERIFICATION = "verification"
    STORAGE = "storage"
    QUERY_RETRIEVE = "query_retrieve"
    MPPS = "mpps"
    INSTANCE_AVAILABILITY = "instance_availability"
    STORAGE_COMMITMENT = "storage_commitment"

    @property
    def label(self) -> str:
        return SERVICE_LABELS[self]


SERVICE_LABELS = {
    ListenerService.VERIFICATION: "Verification",
    ListenerService.STORAGE: "Storage",
    ListenerService.QUERY_RETRIEVE: "Query/Retrieve",
    ListenerService.MPPS: "MPPS",
    ListenerService.INSTANCE_AVAILABILITY: "Instance Availability",
    ListenerService.STORAGE_COMMITMENT: "Storage Commitment",
}

UNCOMPRESSED = [ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                ExplicitVRBigEndian]
# The archive keeps instances as they arrive, so Storage accepts every transfer syntax the
# console can read and render, compressed ones included.
STORAGE_DEFAULT = list(AllTransferSyntaxes)
KNOWN_SYNTAXES: list[UID] = list(AllTransferSyntaxes)

STORAGE_SOP_CLASSES: list[str] = [str(cx.abstract_syntax) for cx in AllStoragePresentationContexts
                                  if cx.abstract_syntax is not None]
FIND_MODELS = [PatientRootQueryRetrieveInformationModelFind,
               StudyRootQueryRetrieveInformationModelFind]
MOVE_MODELS = [PatientRootQueryRetrieveInformationModelMove,
               StudyRootQueryRetrieveInformationModelMove]
GET_MODELS = [PatientRootQueryRetrieveInformationModelGet,
              StudyRootQueryRetrieveInformationModelGet]

SOP_CLASSES: dict[ListenerService, list[str]] = {
    ListenerService.VERIFICATION: [Verification],
    ListenerService.STORAGE: STORAGE_SOP_CLASSES,
    ListenerService.QUERY_RETRIEVE: [*FIND_MODELS, *MOVE_MODELS, *GET_MODELS],
    ListenerService.MPPS: [ModalityPerformedProcedureStep],
    ListenerService.INSTANCE_AVAILABILITY: [InstanceAvailabilityNotification],
    ListenerService.STORAGE_COMMITMENT: [StorageCommitmentPushModel],
}


def default_syntaxes(service: ListenerService) -> list[str]:
    return [str(uid) for uid in (STORAGE_DEFAULT if service == ListenerService.STORAGE
                                 else UNCOMPRESSED)]


def offered_services(listener: Listener) -> list[ListenerService]:
    return [service for service in ListenerService if getattr(listener, service.value)]


def accepted_syntaxes(listener: Listener, service: ListenerService) -> list[str]:
    """The transfer syntaxes the listener accepts for the service."""
    chosen = (listener.transfer_syntaxes or {}).get(service.value)
    return list(chosen) if chosen else default_syntaxes(service)


def syntax_choices() -> list[tuple[str, str]]:
    return [(str(uid), f"{uid.name} ({uid})") for uid in KNOWN_SYNTAXES]
