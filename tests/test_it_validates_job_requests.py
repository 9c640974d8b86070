"""POST /api/jobs: unknown kinds and bad parameters get 422 with field errors; nothing saved."""

from typing import Any

import pytest
from django.contrib.auth.models import User

from netjobs.models import Job
from tests.conftest import logged_in


def post(user: User, body: dict[str, Any]) -> Any:
    return logged_in(user).post("/api/jobs", body, content_type="application/json")


def test_unknown_kind_is_422(operator: User) -> None:
    response = post(operator, {"kind": "teleport", "params": {}})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"][-1] == "kind" and "teleport" in error["msg"] and "echo" in error["msg"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "ae"),
        ({"ae": "x"}, "ae"),
        ({"ae": 999999}, "ae"),
        ({"ae": "{ae}", "repeat": 0}, "repeat"),
        ({"ae": "{ae}", "interval": -1}, "interval"),
        ({"ae": "{ae}", "calling_ae": 999999}, "calling_ae"),
        ({"ae": "{ae}", "surprise": 1}, "surprise"),
    ],
)
def test_bad_params_are_422_with_the_field(
    operator: User, remote_ae: Any, params: dict[str, Any], field: str
) -> None:
    ae = remote_ae()
    params = {k: (ae.pk if v == "{ae}" else v) for k, v in params.items()}
    response = post(operator, {"kind": "echo", "params": params})
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "payload", "params", field] in locs
    assert not Job.objects.exists()


def test_a_local_ae_is_not_an_echo_target(operator: User, remote_ae: Any) -> None:
    local = remote_ae(kind="local", ae_title="CONSOLE")
    response = post(operator, {"kind": "echo", "params": {"ae": local.pk}})
    assert response.status_code == 422
    assert "no remote AE" in response.json()["detail"][0]["msg"]


def test_kinds_endpoint_publishes_parameter_schemas(viewer: User) -> None:
    kinds = logged_in(viewer).get("/api/jobs/kinds").json()
    echo = next(kind for kind in kinds if kind["name"] == "echo")
    assert echo["required_role"] == "Operator"
    assert set(echo["params_schema"]["properties"]) >= {"ae", "repeat", "interval"}
    assert echo["params_schema"]["required"] == ["ae"]
