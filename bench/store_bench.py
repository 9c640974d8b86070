"""Store job benchmark for issue 5, side by side with DCMTK storescu, on loopback only.

    DATABASE_URL=postgresql://…/scratch .venv/bin/python bench/store_bench.py [--rounds 3]

N CT files of 512 KB are archived first. Two DCMTK `storescp` receivers run: one writing the
files (`-od`, the issue's set-up) and one receiving without storing (`--ignore`), which leaves
the senders' own cost. For each receiver and each round, DCMTK `storescu -pdu 131072 +sd`
sends the folder, then the console's store job sends the archived study: timed from submit
(job created and queued, as the API does) to finish (job terminal in the database), run by a
real Celery job worker started as the supervisor starts it (PROFILE=1: run in this process
under cProfile instead). The last round
also sends over 4 associations (storescp serves one association at a time, so 4 show the cost
of splitting rather than a gain). Reports instances/s, MB/s and the ratio to DCMTK per round,
and the median ratio per receiver.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    WORK,
    celery_worker,
    cleanup,
    free_port,
    make_ct_files,
    setup_django,
    storescu,
    wait_for_port,
)


def start_storescp(port: int, output: Path | None) -> subprocess.Popen[bytes]:
    """DCMTK storescp on loopback: writing into output, or receiving only when output is None."""
    storing = ["-od", str(output)] if output else ["--ignore"]
    if output:
        output.mkdir()
    return subprocess.Popen(["storescp", *storing, "-pdu", "131072", "-aet", "STORESCP",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from archive.indexing import IndexCache, store_file
    from archive.models import InstanceSource, Study
    from console.roles import Role, ensure_role_groups
    from netjobs.jobs.runner import run_job
    from netjobs.jobs.services import create_job
    from netjobs.models import Job, JobStatus

    folder = WORK / "ct"
    make_ct_files(folder, args.files)
    megabytes = sum(f.stat().st_size for f in folder.iterdir()) / 1024**2
    cache = IndexCache()
    for path in sorted(folder.iterdir()):
        store_file(path, source=InstanceSource.PATH_IMPORT, cache=cache)
    study = Study.objects.get()
    owner = User.objects.create_user("bench")
    ensure_role_groups()
    owner.groups.add(Group.objects.get(name=Role.OPERATOR.group_name))
    print(f"database: {connection.vendor}; {args.files} CT files, {megabytes:.0f} MB; "
          f"{os.cpu_count()} CPUs")

    terminal = JobStatus.terminal()

    def console_store(remote: Any, associations: int) -> float:
        started = time.perf_counter()
        job = create_job("store", {"ae": remote.pk, "studies": [study.pk],
                                   "associations": associations}, owner=owner)
        if profile:
            import cProfile
            import pstats
            profiler = cProfile.Profile()
            profiler.runcall(run_job, job.pk)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        else:  # the worker took it from the queue: poll until it is over
            deadline = time.monotonic() + 600
            while job.status not in terminal and time.monotonic() < deadline:
                time.sleep(0.005)
                job.refresh_from_db(fields=["status"])
        elapsed = time.perf_counter() - started
        job = Job.objects.get(pk=job.pk)
        if job.result["sent"] != args.files:  # say why before failing
            print(list(job.items.exclude(outcome="succeeded")
                       .values_list("message", flat=True))[:5])
        assert job.result["sent"] == args.files, job.result
        return elapsed

    profile = bool(os.environ.get("PROFILE"))
    try:
        with contextlib.ExitStack() as stack:
            if not profile:  # submitted as the API does, run by a real worker
                stack.enter_context(celery_worker())
            compare(args.files, args.rounds, megabytes, console_store)
    finally:
        cleanup()


def compare(files: int, rounds: int, megabytes: float,
            console_store: Callable[[Any, int], float]) -> None:
    from netjobs.models import AEKind, ApplicationEntity

    def rate(seconds: float) -> str:
        return (f"{seconds:.2f} s, {files / seconds:.0f} instances/s, "
                f"{megabytes / seconds:.0f} MB/s")

    folder = WORK / "ct"
    for label, output in (("storescp -od (writing files)", WORK / "received"),
                          ("storescp --ignore (receiving only)", None)):
        port = free_port()
        peer = start_storescp(port, output)
        try:
            wait_for_port(port)
            remote = ApplicationEntity.objects.create(
                kind=AEKind.REMOTE, ae_title="STORESCP", host="127.0.0.1", port=port)
            print(f"\n→ {label}")
            ratios = []
            for round_number in range(1, rounds + 1):
                dcmtk = storescu(port, "STORESCP", folder)
                console = console_store(remote, 1)
                ratios.append(dcmtk / console)
                print(f"round {round_number}: DCMTK storescu {rate(dcmtk)} | console store "
                      f"job {rate(console)} | ratio {dcmtk / console:.2f}")
            parallel = console_store(remote, 4)
            print(f"console store job, 4 associations: {rate(parallel)}")
            print(f"median ratio (console throughput ÷ DCMTK's): "
                  f"{statistics.median(ratios):.2f}")
        finally:
            peer.terminate()
            peer.wait(timeout=10)


if __name__ == "__main__":
    main()
