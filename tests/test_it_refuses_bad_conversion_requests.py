"""POST /api/jobs for conversions: a lossy target needs "lossy": true, results go only under
an export root, one source at a time; nothing is saved when refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from netjobs.models import Job
from tests.archive_helpers import import_folder
from tests.conftest import logged_in


def post(user: User, kind: str, params: dict[str, Any]) -> Any:
    return logged_in(user).post("/api/jobs", {"kind": kind, "params": params},
                                content_type="application/json")


def messages(response: Any) -> str:
    return " ".join(error["msg"] for error in response.json()["detail"])


@pytest.mark.django_db
def test_a_lossy_target_needs_confirming(operator: User) -> None:
    with import_folder() as folder:
        refused = post(operator, "transcode", {"path": str(folder), "target": "jpeg_baseline"})
        assert refused.status_code == 422
        assert "lossy" in messages(refused)
        assert not Job.objects.exists()

        accepted = post(operator, "transcode", {"path": str(folder), "target": "jpeg_baseline",
                                                "lossy": True})
    assert accepted.status_code == 201, accepted.content
    assert Job.objects.get().params["new_uid"] is True  # a lossy result is a new instance


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "extra", "needle"), [
    ("transcode", {"output": "folder", "folder": "/etc"}, "outside the folders allowed"),
    ("transcode", {"output": "folder", "folder": "{export}/../../x"}, "outside"),
    ("transcode", {"output": "folder"}, "needs a folder"),
    ("transcode", {"target": "jpeg_2000"}, "target"),
    ("transcode", {"near": 0, "target": "jpeg_ls_near_lossless", "lossy": True}, "near"),
    ("export_images", {"output": "archive"}, "not into the archive"),
    ("split", {"frames": [0]}, "frame numbers start at 1"),
    ("transcode", {"studies": [1]}, "exactly one"),
    ("swap_bytes", {"path": "/etc/passwd"}, "outside the folders allowed for imports"),
])
def test_bad_conversion_params_are_422(operator: User, kind: str, extra: dict[str, Any],
                                       needle: str) -> None:
    export = str(settings.EXPORT_ROOTS[0])
    with import_folder() as folder:
        params: dict[str, Any] = {"path": str(folder)}
        params.update({k: (v.replace("{export}", export) if isinstance(v, str) else v)
                       for k, v in extra.items()})
        response = post(operator, kind, params)
    assert response.status_code == 422, response.content
    assert needle in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_viewer_cannot_start_a_conversion(viewer: User) -> None:
    with import_folder() as folder:
        response = post(viewer, "transcode", {"path": str(folder)})
    assert response.status_code == 403
    assert not Job.objects.exists()
