"""Storage SCP benchmark for issue 4, side by side with Orthanc, on loopback only.

    DATABASE_URL=postgresql://…/scratch .venv/bin/python bench/listener_bench.py [--files 500]

DCMTK storescu -pdu 131072 +sd sends N CT files of 512 KB to the console's Storage SCP
(stored durably and indexed before each success) and to Orthanc (Debian's package);
then 4 storescu senders at once send 4 × N/4 other files to the console: every instance
must be archived. Reports instances/s and MB/s for each.
"""

from __future__ import annotations

import argparse
import threading
import time

from common import WORK, Orthanc, cleanup, free_port, make_ct_files, setup_django, storescu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from archive.models import Instance
    from netjobs.listeners.manager import ListenerManager
    from netjobs.models import Listener

    folder = WORK / "ct"
    make_ct_files(folder, args.files)
    megabytes = sum(f.stat().st_size for f in folder.iterdir()) / 1024**2
    print(f"database: {connection.vendor}; {args.files} CT files, {megabytes:.0f} MB")

    port = free_port()
    Listener.objects.create(name="bench", ae_title="CONSOLE", port=port,
                            max_associations=16, max_pdu=131072)
    manager = ListenerManager(owner="bench")
    manager.reconcile()
    try:
        console = storescu(port, "CONSOLE", folder)
        stored = Instance.objects.count()
        assert stored == args.files, f"only {stored} of {args.files} archived"
        print(f"storescu → console Storage SCP: {console:.2f} s, "
              f"{args.files / console:.0f} instances/s, {megabytes / console:.1f} MB/s")
        orthanc = Orthanc()
        try:
            peer = storescu(orthanc.dicom_port, "ORTHANC", folder)
        finally:
            orthanc.stop()
        print(f"storescu → Orthanc: {peer:.2f} s, {args.files / peer:.0f} instances/s, "
              f"{megabytes / peer:.1f} MB/s; console rate = {peer / console:.2f} × Orthanc's")

        quarter = max(1, args.files // 4)
        folders = [WORK / f"sender{index}" for index in range(4)]
        for each in folders:
            make_ct_files(each, quarter)
        times: list[float] = []
        senders = [threading.Thread(target=lambda f=f: times.append(storescu(port, "CONSOLE", f)))
                   for f in folders]
        started = time.perf_counter()
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        elapsed = time.perf_counter() - started
        total = Instance.objects.count() - stored
        print(f"4 concurrent senders, {4 * quarter} instances: {elapsed:.2f} s, "
              f"{4 * quarter / elapsed:.0f} instances/s; archived {total} of {4 * quarter}"
              + (" — nothing lost" if total == 4 * quarter else " — LOST SOME"))
    finally:
        for listener_id in list(manager.running):
            manager.running.pop(listener_id).stop()


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
