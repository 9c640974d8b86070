"""Store job benchmark for issue 5, side by side with DCMTK storescu, on loopback only.

    DATABASE_URL=postgresql://…/scratch .venv/bin/python bench/store_bench.py [--files 500]

N CT files of 512 KB are archived first. DCMTK `storescu -pdu 131072 +sd` sends the folder
to a DCMTK `storescp` (writing the files), then the console's store job sends the archived
study to the same storescp: timed from submit (job created) to finish (job terminal), run
by the job runner in this process, with 1 and with 4 associations (storescp serves one
association at a time, so 4 show the cost of splitting rather than a gain).
Reports instances/s, MB/s and the ratio to DCMTK.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from common import WORK, cleanup, free_port, make_ct_files, setup_django, storescu, wait_for_port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from archive.indexing import IndexCache, store_file
    from archive.models import InstanceSource, Study
    from console.roles import Role, ensure_role_groups
    from netjobs.jobs.runner import run_job
    from netjobs.jobs.services import create_job
    from netjobs.models import AEKind, ApplicationEntity, Job

    folder = WORK / "ct"
    make_ct_files(folder, args.files)
    megabytes = sum(f.stat().st_size for f in folder.iterdir()) / 1024**2
    cache = IndexCache()
    for path in sorted(folder.iterdir()):
        store_file(path, source=InstanceSource.PATH_IMPORT, cache=cache)
    study = Study.objects.get()
    print(f"database: {connection.vendor}; {args.files} CT files, {megabytes:.0f} MB")

    port = free_port()
    received = WORK / "received"
    received.mkdir()
    peer = subprocess.Popen(["storescp", "-od", str(received), "-pdu", "131072", "-aet",
                             "STORESCP", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"})
    try:
        wait_for_port(port)
        dcmtk = storescu(port, "STORESCP", folder)
        print(f"DCMTK storescu → storescp: {dcmtk:.2f} s, {args.files / dcmtk:.0f} "
              f"instances/s, {megabytes / dcmtk:.0f} MB/s")
        remote = ApplicationEntity.objects.create(kind=AEKind.REMOTE, ae_title="STORESCP",
                                                  host="127.0.0.1", port=port)
        owner = User.objects.create_user("bench")
        ensure_role_groups()
        owner.groups.add(Group.objects.get(name=Role.OPERATOR.group_name))
        for associations in (1, 4):
            started = time.perf_counter()
            job = create_job("store", {"ae": remote.pk, "studies": [study.pk],
                                       "associations": associations}, owner=owner)
            if os.environ.get("PROFILE"):
                import cProfile
                import pstats
                profiler = cProfile.Profile()
                profiler.runcall(run_job, job.pk)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            else:
                run_job(job.pk)
            elapsed = time.perf_counter() - started
            job = Job.objects.get(pk=job.pk)
            if job.result["sent"] != args.files:  # say why before failing
                print(list(job.items.exclude(outcome="succeeded")
                           .values_list("message", flat=True))[:5])
            assert job.result["sent"] == args.files, job.result
            print(f"console store job, {associations} association(s): {elapsed:.2f} s, "
                  f"{args.files / elapsed:.0f} instances/s, {megabytes / elapsed:.0f} MB/s; "
                  f"throughput = {dcmtk / elapsed:.2f} × DCMTK's")
    finally:
        peer.terminate()
        peer.wait(timeout=10)
        cleanup()


if __name__ == "__main__":
    main()
