"""The same find, move and get with DCMTK (findscu, movescu, getscu) and dcm4che (findscu,
movescu, getscu) command lines."""

from __future__ import annotations

import shlex

from netjobs.jobs.base import CommandLine
from netjobs.models import ApplicationEntity
from netjobs.operations.common import calling_ae_title
from netjobs.operations.qr.identifiers import parse_key
from netjobs.operations.qr.information_models import QueryModel
from netjobs.operations.qr.params import FindParams, GetParams, MoveParams, RetrieveParams

DCMTK_MODEL_FLAGS = {QueryModel.PATIENT_ROOT: "-P", QueryModel.STUDY_ROOT: "-S",
                     QueryModel.MODALITY_WORKLIST: "-W"}
DCM4CHE_MODELS = {QueryModel.PATIENT_ROOT: "PatientRoot", QueryModel.STUDY_ROOT: "StudyRoot",
                  QueryModel.MODALITY_WORKLIST: "MWL"}
RECEIVE_DIR = "<dir>"
PLACEHOLDERS = {"<key>", "<cert>", "<ca>", RECEIVE_DIR}  # for the operator to fill in


def _join(*parts: str) -> str:
    return " ".join(part if part in PLACEHOLDERS else shlex.quote(part) for part in parts)


def _dcmtk_start(tool: str, params: FindParams | RetrieveParams,
                 remote: ApplicationEntity) -> list[str]:
    tls = ["+tls", "<key>", "<cert>", "+cf", "<ca>"] if remote.tls_enabled else []
    return [tool, DCMTK_MODEL_FLAGS[params.model], "-aet", calling_ae_title(params.calling_ae),
            "-aec", remote.ae_title, *tls]


def _dcm4che_start(tool: str, params: FindParams | RetrieveParams,
                   remote: ApplicationEntity) -> list[str]:
    level = ["-L", params.level.value] if params.level is not None else []
    tls = ["--tls"] if remote.tls_enabled else []
    return [tool, "-b", calling_ae_title(params.calling_ae), "-c",
            f"{remote.ae_title}@{remote.host}:{remote.port}", *tls,
            "-M", DCM4CHE_MODELS[params.model], *level]


def find_command_lines(params: FindParams) -> list[CommandLine]:
    remote = ApplicationEntity.objects.get(pk=params.ae)
    dcmtk = _dcmtk_start("findscu", params, remote)
    if params.level is not None:
        dcmtk += ["-k", f"QueryRetrieveLevel={params.level.value}"]
    dcm4che = _dcm4che_start("findscu", params, remote)
    for key, value in params.matching_keys.items():
        dcmtk += ["-k", f"{parse_key(key).dcmtk}={value}"]
        dcm4che += ["-m", f"{key}={value}"]
    for key in params.effective_return_keys():
        dcmtk += ["-k", parse_key(key).dcmtk]
        dcm4che += ["-r", key]
    return [CommandLine("DCMTK", _join(*dcmtk, remote.host, str(remote.port))),
            CommandLine("dcm4che", _join(*dcm4che))]


def _retrieve_lines(tool: str, params: RetrieveParams, dcmtk_extra: list[str],
                    dcm4che_extra: list[str]) -> list[CommandLine]:
    remote = ApplicationEntity.objects.get(pk=params.ae)
    dcmtk = [*_dcmtk_start(tool, params, remote), *dcmtk_extra,
             "-k", f"QueryRetrieveLevel={params.level.value}"]
    dcm4che = [*_dcm4che_start(tool, params, remote), *dcm4che_extra]
    for keyword, value in params.identifier_keys().items():
        dcmtk += ["-k", f"{keyword}={value}"]
        dcm4che += ["-m", f"{keyword}={value}"]
    return [CommandLine("DCMTK", _join(*dcmtk, remote.host, str(remote.port))),
            CommandLine("dcm4che", _join(*dcm4che))]


def move_command_lines(params: MoveParams) -> list[CommandLine]:
    return _retrieve_lines("movescu", params, ["-aem", params.destination],
                           ["--dest", params.destination])


def get_command_lines(params: GetParams) -> list[CommandLine]:
    return _retrieve_lines("getscu", params, ["-od", RECEIVE_DIR],
                           ["--directory", RECEIVE_DIR])
