"""Long forms summarise their errors at the top: each field by its label, linked to an
element of the page that exists (also for checkbox lists, which have no single id)."""

import re

import pytest
from django import forms
from django.contrib.auth.models import User
from django.template import Context, Template

from tests.conftest import logged_in


class Sample(forms.Form):
    port = forms.IntegerField(label="Port")
    services = forms.MultipleChoiceField(
        label="Services", choices=[("echo", "Verification"), ("store", "Storage")],
        widget=forms.CheckboxSelectMultiple)

    def clean(self) -> dict[str, object]:
        raise forms.ValidationError("Nothing would be offered.")


def summary_targets(html: str) -> list[str]:
    summary = html.split('class="form-errors"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'href="#([^"]+)"', summary)


def test_every_summary_link_points_at_its_field() -> None:
    form = Sample({"port": "eleven"})
    html = Template('{% include "_form_errors.html" with form=form %}'
                    "{% for field in form %}{{ field }}{% endfor %}").render(
        Context({"form": form}))
    assert "Please correct the following" in html
    assert "Nothing would be offered." in html
    assert ">Port</a>: Enter a whole number." in html
    assert ">Services</a>: This field is required." in html
    targets = summary_targets(html)
    assert targets == ["id_port", "id_services_0"]
    for target in targets:
        assert f'id="{target}"' in html


def test_no_errors_no_summary() -> None:
    form = Sample()
    html = Template('{% include "_form_errors.html" with form=form %}').render(
        Context({"form": form}))
    assert "form-errors" not in html and "Please correct" not in html


@pytest.mark.django_db
def test_the_listener_form_summarises_and_links(administrator: User) -> None:
    response = logged_in(administrator).post("/listeners/new/", {"name": "", "port": "x"})
    html = response.content.decode()
    assert response.status_code in (200, 422) and 'class="form-errors"' in html
    targets = summary_targets(html)
    assert targets, "the summary names the fields"
    for target in targets:
        assert f'id="{target}"' in html, target
