"""What a de-identification job leaves on disk, removed once it is no longer needed: a
re-identification key as soon as no queued or running job names it, and the files held back
for review after the conversions' retention time."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from archive.conversions.jobs.outputs import stale_job_folders
from archive.deid.jobs.params import KEY_PREFIX, key_folder
from archive.deid.jobs.run import held_folder
from netjobs.models import Job, JobStatus

KEY_GRACE_SECONDS = 600


def sweep_deid_files() -> list[Path]:
    """Remove keys no live job uses and review folders of jobs finished long enough ago;
    returns what was removed."""
    removed: list[Path] = []
    live = Job.objects.exclude(status__in=JobStatus.terminal())
    wanted = {str(params.get("private_key", "")).removeprefix(KEY_PREFIX)
              for params in live.filter(kind="reidentify").values_list("params", flat=True)
              if isinstance(params, dict)}
    folder = key_folder()
    young = time.time() - KEY_GRACE_SECONDS  # a key given a moment ago: its job is being made
    for key in folder.glob("*.pem") if folder.is_dir() else []:
        if key.stem not in wanted and key.stat().st_mtime < young:
            key.unlink(missing_ok=True)
            removed.append(key)
    for path in stale_job_folders(held_folder(0).parent).values():
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
