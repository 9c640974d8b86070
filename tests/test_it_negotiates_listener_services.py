"""What a listener accepts: the services it offers, the transfer syntaxes chosen per
service, private storage SOP classes when allowed, and C-STORE refused when Storage is off."""

from typing import Any

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    ModalityPerformedProcedureStep,
    SecondaryCaptureImageStorage,
)

from archive.models import Instance
from netjobs.listeners.manager import ListenerManager
from netjobs.models import Association, PresentationContext
from tests.listener_helpers import make_listener, settled

pytestmark = pytest.mark.django_db(transaction=True)
PRIVATE_SOP_CLASS = "1.3.6.1.4.1.5962.301.9"


def instance(sop_class: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid()
    ds.PatientID, ds.PatientName = "PRIV", "Private^Object"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def associate(port: int, contexts: list[tuple[str, list[str]]]) -> Any:
    ae = AE(ae_title="SENDER")
    for abstract, syntaxes in contexts:
        ae.add_requested_context(abstract, syntaxes)
    return ae.associate("127.0.0.1", port, ae_title="CONSOLE")


def results(listener: Any) -> dict[tuple[str, str], int | None]:
    return {(cx.abstract_syntax, cx.proposed_transfer_syntaxes[0]): cx.result
            for cx in PresentationContext.objects.filter(association__listener=listener)}


def test_storage_takes_only_the_chosen_syntaxes(manager: ListenerManager) -> None:
    listener = make_listener(transfer_syntaxes={"storage": [ExplicitVRLittleEndian]})
    manager.reconcile()
    assoc = associate(listener.port, [(CTImageStorage, [JPEG2000Lossless]),
                                      (SecondaryCaptureImageStorage, [ExplicitVRLittleEndian]),
                                      (ModalityPerformedProcedureStep,
                                       [ExplicitVRLittleEndian])])
    assert assoc.is_established
    assoc.release()
    settled(listener, 1)
    assert results(listener) == {
        (CTImageStorage, JPEG2000Lossless): 4,  # transfer syntax not supported
        (SecondaryCaptureImageStorage, ExplicitVRLittleEndian): 0,
        (ModalityPerformedProcedureStep, ExplicitVRLittleEndian): 3,  # MPPS is off
    }


def test_private_storage_sop_classes_when_allowed(manager: ListenerManager) -> None:
    closed = make_listener(name="closed")
    allowing = make_listener(name="open", accept_private_sop_classes=True)
    manager.reconcile()
    refused = associate(closed.port, [(PRIVATE_SOP_CLASS, [ExplicitVRLittleEndian])])
    assert not refused.is_established  # no context accepted
    assoc = associate(allowing.port, [(PRIVATE_SOP_CLASS, [ExplicitVRLittleEndian])])
    assert assoc.is_established
    status = assoc.send_c_store(instance(PRIVATE_SOP_CLASS))
    assoc.release()
    assert status.Status == 0
    assert Instance.objects.get().sop_class_uid == PRIVATE_SOP_CLASS
    settled(closed, 1)
    assert results(closed) == {(PRIVATE_SOP_CLASS, ExplicitVRLittleEndian): 3}


def test_c_store_is_refused_when_storage_is_off(manager: ListenerManager) -> None:
    listener = make_listener(storage=False, query_retrieve=True)
    manager.reconcile()
    assoc = associate(listener.port, [(SecondaryCaptureImageStorage,
                                       [ExplicitVRLittleEndian])])
    assert assoc.is_established  # the context exists for C-GET; storing to it does not
    status = assoc.send_c_store(instance(SecondaryCaptureImageStorage))
    assoc.release()
    assert status.Status == 0x0122
    assert not Instance.objects.exists()
    settled(listener, 1)
    assert Association.objects.get(listener=listener).dimse_messages.filter(
        command="C-STORE-RSP", status=0x0122).exists()
