"""The file an inspection page looks at: an archived instance, or a file a user uploaded
just to inspect it (kept under INSPECT_DIR, visible to that user only)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404
from django.urls import reverse

from archive.imports.uploads import save_uploaded_file
from archive.models import Instance
from archive.storage import absolute_path

_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class InspectedFile:
    kind: str  # "instance" or "upload"
    ident: str
    path: Path
    title: str
    back_url: str

    def url(self, view: str) -> str:
        return reverse(f"archive:inspect_{view}", args=[self.kind, self.ident])


def _user_dir(user: User) -> Path:
    return Path(settings.INSPECT_DIR) / str(user.pk)


def save_upload(user: User, upload: UploadedFile) -> str:
    folder = _user_dir(user)
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    save_uploaded_file(upload, folder / f"{token}.dcm")
    name = Path(upload.name or "file").name[:200]
    (folder / f"{token}.name").write_text(name)
    return token


def uploaded_files(user: User) -> list[tuple[str, str, int]]:
    """(token, original name, size) of the user's inspection files, newest first."""
    folder = _user_dir(user)
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.dcm"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [(f.stem, _name(f), f.stat().st_size) for f in files]


def _name(path: Path) -> str:
    label = path.with_suffix(".name")
    return label.read_text() if label.is_file() else path.name


def delete_upload(user: User, token: str) -> None:
    if _TOKEN.match(token):
        for suffix in (".dcm", ".name"):
            (_user_dir(user) / f"{token}{suffix}").unlink(missing_ok=True)


def resolve_source(user: User, kind: str, ident: str) -> InspectedFile:
    if kind == "instance" and ident.isascii() and ident.isdecimal():
        instance = Instance.objects.filter(pk=int(ident)).first()
        if instance is None:
            raise Http404("No such instance.")
        path = absolute_path(instance.file_path)
        title = instance.title
        back = instance.get_absolute_url()
    elif kind == "upload" and _TOKEN.match(ident):
        path = _user_dir(user) / f"{ident}.dcm"  # another user's token is simply not found
        title, back = (_name(path) if path.is_file() else ""), reverse("archive:inspect_home")
    else:
        raise Http404("No such file.")
    if not path.is_file():
        raise Http404("The file is not there any more.")
    return InspectedFile(kind, ident, path, title, back)
