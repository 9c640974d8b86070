"""The Query/Retrieve and Modality Worklist information models, their levels and unique keys
(PS3.4 C.6 and K.6), and the SOP classes that carry them."""

from __future__ import annotations

from enum import StrEnum

from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)


class QueryModel(StrEnum):
    PATIENT_ROOT = "patient_root"
    STUDY_ROOT = "study_root"
    MODALITY_WORKLIST = "modality_worklist"

    @property
    def label(self) -> str:
        return MODEL_LABELS[self]

    @property
    def has_levels(self) -> bool:
        return self is not QueryModel.MODALITY_WORKLIST

    @property
    def find_sop_class(self) -> str:
        return str(FIND_SOP_CLASSES[self])


class QueryLevel(StrEnum):
    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"


MODEL_LABELS: dict[QueryModel, str] = {
    QueryModel.PATIENT_ROOT: "Patient Root",
    QueryModel.STUDY_ROOT: "Study Root",
    QueryModel.MODALITY_WORKLIST: "Modality Worklist",
}
RETRIEVE_MODELS = (QueryModel.PATIENT_ROOT, QueryModel.STUDY_ROOT)

FIND_SOP_CLASSES: dict[QueryModel, str] = {
    QueryModel.PATIENT_ROOT: PatientRootQueryRetrieveInformationModelFind,
    QueryModel.STUDY_ROOT: StudyRootQueryRetrieveInformationModelFind,
    QueryModel.MODALITY_WORKLIST: ModalityWorklistInformationFind,
}
MOVE_SOP_CLASSES: dict[QueryModel, str] = {
    QueryModel.PATIENT_ROOT: PatientRootQueryRetrieveInformationModelMove,
    QueryModel.STUDY_ROOT: StudyRootQueryRetrieveInformationModelMove,
}
GET_SOP_CLASSES: dict[QueryModel, str] = {
    QueryModel.PATIENT_ROOT: PatientRootQueryRetrieveInformationModelGet,
    QueryModel.STUDY_ROOT: StudyRootQueryRetrieveInformationModelGet,
}

LEVEL_ORDER = [QueryLevel.PATIENT, QueryLevel.STUDY, QueryLevel.SERIES, QueryLevel.IMAGE]
UNIQUE_KEYS: dict[QueryLevel, str] = {
    QueryLevel.PATIENT: "PatientID",
    QueryLevel.STUDY: "StudyInstanceUID",
    QueryLevel.SERIES: "SeriesInstanceUID",
    QueryLevel.IMAGE: "SOPInstanceUID",
}


class ModelMismatch(ValueError):
    """A level or key that the chosen information model does not have."""


def levels_of(model: QueryModel) -> list[QueryLevel]:
    if model is QueryModel.PATIENT_ROOT:
        return list(LEVEL_ORDER)
    if model is QueryModel.STUDY_ROOT:
        return LEVEL_ORDER[1:]
    return []


def check_level(model: QueryModel, level: QueryLevel | None) -> QueryLevel | None:
    """The level to use with ``model``: none for the worklist, STUDY when not given."""
    if not model.has_levels:
        if level is not None:
            raise ModelMismatch(f"{model.label} has no query level (got {level.value})")
        return None
    level = level or QueryLevel.STUDY
    if level not in levels_of(model):
        raise ModelMismatch(f"{model.label} has no {level.value} level")
    return level


def keys_above(model: QueryModel, level: QueryLevel) -> list[str]:
    """The unique keys of the levels above ``level`` in ``model``: a hierarchical query or
    retrieve gives each as a single value (PS3.4 C.4.1.2.2.1, C.4.2.2.1)."""
    levels = levels_of(model)
    return [UNIQUE_KEYS[above] for above in levels[: levels.index(level)]]
