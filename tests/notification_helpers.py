"""A pynetdicom SCU that sends MPPS and IAN requests to a listener (DCMTK has no such tool),
recording the command of every response so tests can read what the SCP put in it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, cast

from pydicom.dataset import Dataset
from pydicom.uid import UID, generate_uid
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import N_CREATE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    InstanceAvailabilityNotification,
    ModalityPerformedProcedureStep,
    Verification,
)

from netjobs.models import Listener


@dataclass
class Modality:
    """An open association to the listener and the response commands received on it."""

    assoc: Association
    responses: list[Dataset] = field(default_factory=list)

    def create_step(self, attributes: Dataset | None,
                    uid: str | None = None) -> tuple[int, Dataset | None]:
        status, attribute_list = self.assoc.send_n_create(
            attributes, ModalityPerformedProcedureStep, uid)
        return int(status.Status), attribute_list

    def set_step(self, modifications: Dataset, uid: str) -> tuple[int, Dataset]:
        status, _ = self.assoc.send_n_set(modifications, ModalityPerformedProcedureStep, uid)
        return int(status.Status), status

    def notify(self, attributes: Dataset, uid: str | None) -> int:
        status, _ = self.assoc.send_n_create(attributes, InstanceAvailabilityNotification, uid)
        return int(status.Status)

    def create_step_from_bytes(self, attribute_list: bytes, uid: str) -> int:
        """An N-CREATE whose Attribute List is these bytes as they are: pynetdicom's
        send_n_create encodes a Dataset and so cannot send a malformed one."""
        request = N_CREATE()
        request.MessageID = 4242
        request.AffectedSOPClassUID = ModalityPerformedProcedureStep
        request.AffectedSOPInstanceUID = uid
        request.AttributeList = BytesIO(attribute_list)
        context = self.assoc._get_valid_context(ModalityPerformedProcedureStep, "", "scu")
        self.assoc._reactor_checkpoint.clear()  # as send_n_create: hold the reactor
        while not self.assoc._is_paused:
            time.sleep(0.0001)
        try:
            self.assoc.dimse.send_msg(request, int(context.context_id or 0))
            _, response = self.assoc.dimse.get_msg(block=True)
        finally:
            self.assoc._reactor_checkpoint.set()
        assert response is not None, "no N-CREATE-RSP within the DIMSE timeout"
        return int(cast(int, response.Status))

    @property
    def transfer_syntax(self) -> UID:
        context = self.assoc._get_valid_context(ModalityPerformedProcedureStep, "", "scu")
        return UID(context.transfer_syntax[0])

    def echo(self) -> int:
        return int(self.assoc.send_c_echo().Status)

    @property
    def last_response(self) -> Dataset:
        return self.responses[-1]


@contextmanager
def modality(listener: Listener, ae_title: str = "MODALITY") -> Iterator[Modality]:
    ae = AE(ae_title=ae_title)
    for sop_class in (ModalityPerformedProcedureStep, InstanceAvailabilityNotification,
                      Verification):
        ae.add_requested_context(sop_class)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    responses: list[Dataset] = []

    def keep_command(event: Any) -> None:
        responses.append(event.message.command_set)

    assoc = ae.associate("127.0.0.1", listener.port, ae_title=listener.ae_title,
                         evt_handlers=[(evt.EVT_DIMSE_RECV, keep_command)])
    assert assoc.is_established, "the listener did not accept the association"
    try:
        yield Modality(assoc, responses)
    finally:
        if assoc.is_established:
            assoc.release()


def scheduled_step(study_uid: str, accession: str) -> Dataset:
    item = Dataset()
    item.StudyInstanceUID = study_uid
    item.AccessionNumber = accession
    item.RequestedProcedureID = "RP1"
    item.ScheduledProcedureStepID = "SPS1"
    item.ScheduledProcedureStepDescription = "CT head"
    return item


def step_in_progress(study_uid: str, *, accession: str = "ACC-1", patient_id: str = "P-1",
                     patient_name: str = "Doe^Jane", modality: str = "CT",
                     status: str | None = "IN PROGRESS") -> Dataset:
    """An N-CREATE attribute list as a modality sends it (PS3.4 Table F.7.2-1)."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ScheduledStepAttributesSequence = [scheduled_step(study_uid, accession)]
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.PerformedProcedureStepID = "PPS-7"
    ds.PerformedStationAETitle = "CT_ROOM_1"
    ds.PerformedStationName = "CT 1"
    ds.PerformedLocation = "Radiology"
    ds.PerformedProcedureStepStartDate = "20240305"
    ds.PerformedProcedureStepStartTime = "093000"
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.PerformedProcedureStepDescription = "Head without contrast"
    ds.Modality = modality
    ds.StudyID = "1"
    ds.PerformedSeriesSequence = []
    if status is not None:
        ds.PerformedProcedureStepStatus = status
    return ds


def step_end(status: str, *, end_time: str = "094512",
             series_uid: str | None = None) -> Dataset:
    """An N-SET modification list that ends a step, with the series it produced."""
    ds = Dataset()
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepEndDate = "20240305"
    ds.PerformedProcedureStepEndTime = end_time
    series = Dataset()
    series.SeriesInstanceUID = series_uid or generate_uid()
    series.RetrieveAETitle = "CONSOLE"
    series.SeriesDescription = "Axial"
    series.PerformingPhysicianName = ""
    series.OperatorsName = "Tech^Tom"
    series.ProtocolName = "Head"
    series.ReferencedImageSequence = []
    series.ReferencedNonImageCompositeSOPInstanceSequence = []
    ds.PerformedSeriesSequence = [series]
    return ds


def availability(study_uid: str, series: dict[str, list[tuple[str, str]]], *,
                 accession: str = "ACC-1", step_uid: str | None = None,
                 availability_value: str = "ONLINE") -> Dataset:
    """An IAN N-CREATE attribute list (PS3.3 C.4.23): per series UID, its (SOP class UID,
    SOP instance UID) pairs."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.AccessionNumber = accession
    referenced_steps = []
    if step_uid is not None:
        step = Dataset()
        step.ReferencedSOPClassUID = ModalityPerformedProcedureStep
        step.ReferencedSOPInstanceUID = step_uid
        step.PerformedWorkitemCodeSequence = []
        referenced_steps.append(step)
    ds.ReferencedPerformedProcedureStepSequence = referenced_steps
    ds.StudyInstanceUID = study_uid
    ds.ReferencedSeriesSequence = [_series_item(uid, refs, availability_value)
                                   for uid, refs in series.items()]
    return ds


def _series_item(series_uid: str, refs: list[tuple[str, str]], availability_value: str) -> Dataset:
    item = Dataset()
    item.SeriesInstanceUID = series_uid
    item.ReferencedSOPSequence = []
    for sop_class, sop_uid in refs:
        ref = Dataset()
        ref.ReferencedSOPClassUID = sop_class
        ref.ReferencedSOPInstanceUID = sop_uid
        ref.InstanceAvailability = availability_value
        ref.RetrieveAETitle = ["CONSOLE", "BACKUP"]
        item.ReferencedSOPSequence.append(ref)
    return item
