"""The picker's search: studies, series or instances matching what an operator types
(patient name or ID with ``*``/``?`` wildcards, description, accession, modality, a UID
prefix), at most 20, as JSON for static/console/picker.js."""

from __future__ import annotations

from functools import reduce
from operator import and_
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, JsonResponse

from archive.pickers import UID_PATTERN, UPLOAD_PREFIX, Choice, PickLevel, choices_for
from archive.search import wildcard_q
from console.roles import Role, request_user, role_required
from console.templatetags.console_format import format_size

MAX_RESULTS = 20

# Where each level finds the study and the series of its rows, for the shared filters.
_STUDY_PATH = {PickLevel.STUDY: "", PickLevel.SERIES: "study__",
               PickLevel.INSTANCE: "series__study__"}
_SERIES_PATH = {PickLevel.SERIES: "", PickLevel.INSTANCE: "series__"}
_ORDERING = {
    PickLevel.STUDY: ("-study_date", "-study_time", "-pk"),
    PickLevel.SERIES: ("-study__study_date", "-study__pk", "series_number", "pk"),
    PickLevel.INSTANCE: ("-series__study__study_date", "-series__study__pk",
                         "series__series_number", "series__pk", "instance_number", "pk"),
}


def _uid_q(level: PickLevel, prefix: str) -> Q:
    """The level's own UID, or that of its study or series, starts with ``prefix``."""
    study = _STUDY_PATH[level]
    q = Q(**{f"{study}study_instance_uid__startswith": prefix})
    if level in _SERIES_PATH:
        q |= Q(**{f"{_SERIES_PATH[level]}series_instance_uid__startswith": prefix})
    if level is PickLevel.INSTANCE:
        q |= Q(sop_instance_uid__startswith=prefix)
    return q


def _word_q(level: PickLevel, word: str) -> Q:
    """One typed word: patient name or ID, study description, accession, or at series and
    instance level the modality and series description."""
    study = _STUDY_PATH[level]
    q = (wildcard_q(f"{study}patient__patient_name_search", word.upper(), upper_field=True)
         | wildcard_q(f"{study}patient__patient_id", word)
         | wildcard_q(f"{study}study_description", word)
         | Q(**{f"{study}accession_number__iexact": word}))
    if level is PickLevel.STUDY:
        q |= Q(modalities_in_study__icontains=word) if len(word) <= 3 else Q()
    else:
        series = _SERIES_PATH[level]
        q |= (Q(**{f"{series}modality__iexact": word})
              | wildcard_q(f"{series}series_description", word))
    if UID_PATTERN.match(word):
        q |= _uid_q(level, word)
    return q


def matching(level: PickLevel, text: str) -> QuerySet[Any]:
    """The objects of ``level`` matching every word of ``text`` (all when empty), best first."""
    words = text.split()
    objects = level.objects()
    if words:
        objects = objects.filter(reduce(and_, (_word_q(level, w) for w in words)))
    if not words:  # nothing typed yet: the newest first
        return objects.order_by("-pk")
    return objects.order_by(*_ORDERING[level])


def _upload_choices(request: HttpRequest, text: str) -> list[Choice]:
    from archive.inspect.sources import uploaded_files

    term = text.strip().lower()
    return [Choice(f"{UPLOAD_PREFIX}{token}", f"Uploaded file {name} · {format_size(size)}",
                   "a file you uploaded for inspection")
            for token, name, size in uploaded_files(request_user(request))
            if term in name.lower()][:5]


@role_required(Role.VIEWER)
def pick_search(request: HttpRequest, level: str) -> JsonResponse:
    """GET ?q=<words>[&uploads=1] → {"results": [{value, summary, detail}], "more": bool}."""
    try:
        pick_level = PickLevel(level)
    except ValueError:
        raise Http404(f"no picker level {level!r}") from None
    text = request.GET.get("q", "")[:200]
    found = list(matching(pick_level, text)[:MAX_RESULTS + 1])
    results = choices_for(pick_level, found[:MAX_RESULTS])
    if request.GET.get("uploads") and pick_level is PickLevel.INSTANCE:
        results = _upload_choices(request, text) + results
    return JsonResponse({"results": [c.as_json() for c in results],
                         "more": len(found) > MAX_RESULTS})
