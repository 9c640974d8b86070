"""Helpers for archive tests: corpus files, import folders under the allowed root."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "dicom-corpus"
# Part 10 files with all the UIDs the archive needs, across transfer syntaxes.
GOOD = [
    "693_UNCI.dcm", "693_J2KR.dcm", "MR2_J2KR.dcm", "MR2_UNCI.dcm", "OBXXXX1A_expb.dcm",
    "RG3_J2KR.dcm", "gdcm-US-ALOKA-16.dcm", "liver_deflate.dcm", "JPEG-LL.dcm",
    "SC_rgb_expb_16bit_2frame.dcm",
]


def corpus(name: str) -> Path:
    path = CORPUS / name
    assert path.is_file(), f"missing corpus file {path}"
    return path


@contextmanager
def import_folder() -> Iterator[Path]:
    """A fresh folder under the first allowed import root, removed afterwards."""
    root = Path(settings.IMPORT_ROOTS[0])
    folder = root / f"t-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_corpus(folder: Path, names: list[str]) -> list[Path]:
    copies = []
    for name in names:
        target = folder / name
        shutil.copyfile(corpus(name), target)
        copies.append(target)
    return copies
