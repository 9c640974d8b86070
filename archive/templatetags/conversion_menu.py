"""The "Convert" menu of study, series and instance pages: each conversion kind's form,
prefilled with the page's object (``?studies=<pk>``, ``?series=<pk>`` or ``?instances=<pk>``)."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from archive.conversions.dashboard import MENU_LABELS, Link
from archive.conversions.jobs.names import ConversionKind

register = template.Library()

SELECTIONS = ("studies", "series", "instances")  # the GET parameters the forms prefill from


@register.simple_tag
def convert_links(name: str, value: object) -> list[Link]:
    if name not in SELECTIONS:
        raise template.TemplateSyntaxError(f"convert_links: {name!r} is not one of {SELECTIONS}")
    query = urlencode({name: str(value)})
    return [Link(MENU_LABELS[kind], f"{reverse('netjobs:job_new', args=[kind.value])}?{query}",
                 kind.value) for kind in ConversionKind]
