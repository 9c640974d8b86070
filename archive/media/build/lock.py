"""One change at a time per File-set: an exclusive flock on the File-set's folder itself.

Locking the folder (not a lock file) leaves nothing on the medium, and unlike a lock on the
DICOMDIR it survives the DICOMDIR being replaced by a rename.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.media.build.outcomes import FileSetRefused

LOCK_WAIT_SECONDS = 300.0
LOCK_POLL_SECONDS = 0.2


@contextmanager
def fileset_lock(folder: Path, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the File-set folder's lock; FileSetRefused when another job keeps it longer
    than ``wait_seconds``."""
    try:
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise FileSetRefused(f"cannot open the File-set folder {folder}: "
                             f"{exc.strerror or exc}") from None
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise FileSetRefused(
                        f"another job has been changing the File-set in {folder} for more "
                        f"than {wait_seconds:.0f} s; try again when it has finished") from None
                time.sleep(LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock
