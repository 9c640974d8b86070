"""A job's parameters, result and counters as labelled fields a person reads: AEs by their
titles linked to their pages, archive studies/series/instances by their DICOM identity,
booleans as yes/no, sizes in KB/MB, durations in ms/s, DIMSE statuses in hex with their
meaning — never a Python or JSON repr."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db.models import Model
from django.utils.safestring import SafeString

from archive.conversions.syntaxes import TargetSyntax
from archive.models import Instance, Series, Study
from console.templatetags.console_format import (
    dimse_status,
    duration,
    duration_ms,
    format_size,
    label,
)
from netjobs.models import ApplicationEntity, DicomwebEndpoint, Job, Listener

LIST_SHOWN = 10  # list items shown before "and n more"
CHOICE_VALUE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")  # e.g. study_root, keep_first


@dataclass(frozen=True)
class Value:
    """One shown value: text, optionally a link and a hover title, or ready HTML."""

    text: str | SafeString
    url: str = ""
    title: str = ""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    values: list[Value] = field(default_factory=list)
    more: int = 0  # values left out after LIST_SHOWN
    pairs: list[tuple[str, str]] = field(default_factory=list)  # a mapping (matching keys)


M = TypeVar("M", bound=Model)


def _objects(model: type[M], ids: Iterable[Any]) -> dict[int, M]:
    wanted = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    return {obj.pk: obj for obj in model._default_manager.filter(pk__in=wanted)} \
        if wanted else {}


def _linked(model: type[Model], ids: list[Any], noun: str,
            text: Callable[[Any], str]) -> list[Value]:
    found = _objects(model, ids)
    values = []
    for pk in ids:
        obj = found.get(pk)
        if isinstance(pk, str):  # a UID (the DICOMweb jobs name studies and series by UID)
            values.append(Value(pk))
        elif obj is None:
            values.append(Value(f"{noun} #{pk} (no longer exists)"))
        else:
            values.append(Value(text(obj), obj.get_absolute_url()))  # type: ignore[attr-defined]
    return values


def _ae_text(ae: ApplicationEntity) -> str:
    return ae.ae_title


def _ae_title(ae: ApplicationEntity) -> str:
    return f"{ae.host}:{ae.port}"


def _ae_values(ids: list[Any]) -> list[Value]:
    found = _objects(ApplicationEntity, ids)
    values = []
    for pk in ids:
        ae = found.get(pk)
        if isinstance(ae, ApplicationEntity):
            values.append(Value(_ae_text(ae), ae.get_absolute_url(), _ae_title(ae)))
        else:
            values.append(Value(f"AE #{pk} (no longer exists)"))
    return values


def _job_values(ids: list[Any]) -> list[Value]:
    found = _objects(Job, ids)
    return [Value(f"#{pk}", found[pk].get_absolute_url() if pk in found else "",
                  getattr(found.get(pk), "summary", "")) for pk in ids]


# Parameters that name database objects, by key.
REFERENCES: dict[str, Callable[[list[Any]], list[Value]]] = {
    "ae": _ae_values,
    "calling_ae": _ae_values,
    "studies": lambda ids: _linked(Study, ids, "Study", lambda s: s.title),
    "study": lambda ids: _linked(Study, ids, "Study", lambda s: s.title),
    "series": lambda ids: _linked(Series, ids, "Series", lambda s: s.title),
    "instances": lambda ids: _linked(Instance, ids, "Instance", lambda i: i.title),
    "retrieve_listener": lambda ids: _linked(Listener, ids, "Listener",
                                             lambda li: f"{li.name} ({li.ae_title})"),
    "store_job": _job_values,
    "endpoint": lambda ids: _linked(DicomwebEndpoint, ids, "Endpoint", lambda e: e.name),
}
LABELS = {"ae": "Remote AE", "endpoint": "DICOMweb endpoint", "calling_ae": "Calling AE",
          "only": "Only these items", "includefield": "Include fields",
          "fuzzymatching": "Fuzzy matching", "batch_size": "Batch size",
          "associations": "Parallel associations", "store_job": "Store job",
          "retrieve_listener": "Listener for the retrieve", "upload": "Browser upload",
          "seconds": "Conversion time", "files_per_second": "Files/s",
          "mb_per_second": "MB/s", "batches_by_helpers": "Batches done by helper workers",
          "helper_batches": "Batches done by helper workers"}


def scalar_text(key: str, value: Any) -> Value:
    """One value by what its key says it is."""
    if value is None:
        return Value("—")
    if key == "target" and isinstance(value, str) and value in TargetSyntax.__members__.values():
        target = TargetSyntax(value)
        return Value(target.label, title=str(target.uid))
    if isinstance(value, bool):
        return Value("yes" if value else "no")
    if isinstance(value, int | float) and (key == "bytes" or key.endswith("_bytes")):
        return Value(format_size(value), title=f"{value} bytes")
    if isinstance(value, int | float) and key.endswith("_ms"):
        return Value(duration_ms(value))
    if isinstance(value, int | float) and (key.endswith(("_seconds", "_s")) or key in (
            "timeout", "interval", "elapsed", "duration", "seconds")):
        return Value(duration(value))
    if isinstance(value, int) and (key == "status" or key.endswith("_status")):
        return Value(dimse_status(value))
    if isinstance(value, str) and CHOICE_VALUE.match(value):
        return Value(label(value), title=value)
    return Value(str(value))


def describe_value(key: str, value: Any, references: bool = False) -> Field:
    """``references``: the value names database objects by ID (a job's parameters), not
    counts (its result and counters, where ``instances`` is a number)."""
    name = LABELS.get(key, label(key))
    if references and key in REFERENCES and value is not None:
        ids = value if isinstance(value, list) else [value]
        values = REFERENCES[key](ids)
        return Field(key, name, values[:LIST_SHOWN], max(0, len(values) - LIST_SHOWN))
    if isinstance(value, dict):
        return Field(key, name, [] if value else [Value("none")],
                     pairs=[(str(k), _plain(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        shown = [scalar_text(key, v) if not isinstance(v, dict | list) else Value(_plain(v))
                 for v in value[:LIST_SHOWN]]
        return Field(key, name, shown or [Value("none")], max(0, len(value) - LIST_SHOWN))
    return Field(key, name, [scalar_text(key, value)])


def _plain(value: Any) -> str:
    """A nested value as text without Python punctuation."""
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {_plain(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "—" if value is None else str(value)


def describe_mapping(mapping: dict[str, Any] | None, skip: Iterable[str] = (),
                     references: bool = False) -> list[Field]:
    skipped = set(skip)
    return [describe_value(k, v, references) for k, v in (mapping or {}).items()
            if k not in skipped]


def parameter_fields(job: Job) -> list[Field]:
    """The job's parameters, empty optional ones left out (an empty list, None)."""
    shown = {k: v for k, v in (job.params or {}).items()
             if v not in (None, [], {}, "") or k in ("ae",)}
    return describe_mapping(shown, references=True)


def result_fields(job: Job) -> list[Field]:
    """The result; a ``status_text`` is left out where the DIMSE status shows its meaning."""
    result = job.result or {}
    skip = ("status_text",) if isinstance(result.get("status"), int) else ()
    return describe_mapping(result, skip=skip)


def counter_fields(job: Job) -> list[Field]:
    """The counters the result does not already show (a finished store job's result holds
    the same numbers)."""
    return describe_mapping(job.counters, skip=(job.result or {}).keys())


Peer = ApplicationEntity | DicomwebEndpoint
PEER_PARAMS: dict[str, type[ApplicationEntity] | type[DicomwebEndpoint]] = {
    "ae": ApplicationEntity, "endpoint": DicomwebEndpoint}


def peer_of(job: Job, peers: dict[tuple[str, int], Peer]) -> Peer | None:
    """The remote AE or DICOMweb endpoint a job talks to (its ``ae`` or ``endpoint``
    parameter), from a prefetched map."""
    for name in PEER_PARAMS:
        pk = (job.params or {}).get(name)
        if isinstance(pk, int) and (name, pk) in peers:
            return peers[(name, pk)]
    return None


def peers_for(jobs: Iterable[Job]) -> dict[tuple[str, int], Peer]:
    found: dict[tuple[str, int], Peer] = {}
    for name, model in PEER_PARAMS.items():
        ids = {j.params.get(name) for j in jobs if isinstance(j.params, dict)}
        for peer in model.objects.filter(pk__in=[i for i in ids if isinstance(i, int)]):
            found[(name, peer.pk)] = peer
    return found
