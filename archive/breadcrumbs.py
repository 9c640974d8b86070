"""Breadcrumbs of the archive and inspect pages: Archive › Patient › Study › Series › Instance,
each named by its DICOM identity (see the models' ``title``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from archive.models import Instance, Patient, Series, Study


@dataclass(frozen=True)
class Crumb:
    label: str
    url: str = ""  # the current page has none


def patient_url(patient: Patient) -> str:
    """The archive list filtered to this patient (there is no page of its own)."""
    query = {"patient_id": patient.patient_id} if patient.patient_id else {
        "patient_name": patient.patient_name}
    return f"{reverse('archive:study_list')}?{urlencode(query)}"


def archive_crumbs(obj: Patient | Study | Series | Instance | None,
                   *, current: str = "") -> list[Crumb]:
    """The trail down to ``obj``; with ``current`` (an inspect page), ``obj`` links too."""
    trail: list[Patient | Study | Series | Instance] = []
    node: Patient | Study | Series | Instance | None = obj
    while node is not None:
        trail.append(node)
        if isinstance(node, Instance):
            node = node.series
        elif isinstance(node, Series):
            node = node.study
        elif isinstance(node, Study):
            node = node.patient
        else:
            node = None
    crumbs = [Crumb("Archive", reverse("archive:study_list"))]
    for item in reversed(trail):
        url = patient_url(item) if isinstance(item, Patient) else item.get_absolute_url()
        crumbs.append(Crumb(item.title, url))
    if current:
        crumbs.append(Crumb(current))
    elif len(crumbs) > 1:
        crumbs[-1] = Crumb(crumbs[-1].label)
    return crumbs
