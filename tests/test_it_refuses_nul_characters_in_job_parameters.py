"""A NUL character anywhere in a job's parameters is a 422 naming where, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from netjobs.models import Job
from tests.conftest import logged_in

CASES = [
    ({"kind": "create", "params": {"path": "/nowhere", "patient_name": "Doe\x00Jane",
                                   "patient_id": "P1"}}, ["params", "patient_name"]),
    ({"kind": "create", "params": {"path": "/nowhere", "series_description": "a\x00"}},
     ["params", "series_description"]),
    ({"kind": "edit", "params": {"instances": [1], "dcmodify": '-m "(0010,0010)=A\x00B"'}},
     ["params", "dcmodify"]),
    ({"kind": "echo", "params": {"ae": "PACS\x00"}}, ["params", "ae"]),
    ({"kind": "find", "params": {"keys": {"PatientName": ["x\x00"]}}},
     ["params", "keys", "PatientName", 0]),
    ({"kind": "find", "params": {"keys": {"Patient\x00Name": "x"}}},
     ["params", "keys", "Patient\\u0000Name"]),
]


@pytest.mark.parametrize(("body", "loc"), CASES)
def test_it_names_the_parameter_holding_a_nul(operator: User, body: dict[str, Any],
                                              loc: list[Any]) -> None:
    response = logged_in(operator).post("/api/jobs", body, content_type="application/json")
    assert response.status_code == 422
    details = response.json()["detail"]
    assert [d["loc"][2:] for d in details] == [loc]
    assert "NUL" in details[0]["msg"]
    assert not Job.objects.exists()


def test_clean_parameters_still_reach_the_kinds_own_validation(operator: User) -> None:
    body = {"kind": "create", "params": {"path": "/nowhere", "patient_name": "Doe^Jane"}}
    response = logged_in(operator).post("/api/jobs", body, content_type="application/json")
    assert response.status_code == 422
    assert all(d["type"] != "nul_character" for d in response.json()["detail"])
