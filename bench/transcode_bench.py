"""Transcode throughput: the console's transcode job, submit to finish through real Celery
workers, side by side with GDCM's gdcmconv run once per file (as users script it).

    .venv/bin/python bench/transcode_bench.py --files 500 [--targets jpeg_ls_lossless,rle,...]

Generates CT 512×512 16-bit files (noisy synthetic slices), then for each target: gdcmconv
per file into a folder; ``transcode_file`` in this one process (the converter alone); the job
with one worker process (``--concurrency 1``); the job with two worker processes (two
workers, as ``--scale worker=2`` runs them); the job with one worker as deployed
(``--concurrency 4``). Results go to a folder under an export root, as gdcmconv's do.
Prints seconds, files/s and the ratios. Database: DATABASE_URL (use
PostgreSQL: several processes write at once), else SQLite under a temporary folder.
Everything stays on this machine; every process started is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from common import WORK, celery_worker, cleanup, make_synthetic_ct_files, setup_django

GDCMCONV = {"jpeg_ls_lossless": ["--jpegls"], "rle": ["--rle"], "j2k_lossless": ["--j2k"],
            "explicit_le": ["--raw", "--explicit"], "jpeg_lossless_sv1": ["--jpeg"]}


def gdcmconv_per_file(source: Path, target: str, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for path in sorted(source.iterdir()):
        subprocess.run(["gdcmconv", *GDCMCONV[target], str(path), str(out / path.name)],
                       check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def console_job(source: Path, target: str, out: Path) -> tuple[float, dict[str, object]]:
    from django.contrib.auth.models import User

    from netjobs.jobs.services import create_job
    from netjobs.models import Job

    owner, _ = User.objects.get_or_create(username="bench", defaults={"is_superuser": True})
    started = time.perf_counter()
    job = create_job("transcode", {"path": str(source), "target": target, "output": "folder",
                                   "folder": str(out)}, owner=owner)
    deadline = time.monotonic() + 1800
    while True:
        row = Job.objects.get(pk=job.pk)
        if row.is_terminal:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job.pk} still {row.status}")
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if row.status != "succeeded":
        raise RuntimeError(f"job {job.pk} {row.status}: {row.error}")
    return seconds, row.result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--targets", default="jpeg_ls_lossless,rle,j2k_lossless")
    args = parser.parse_args()
    targets = args.targets.split(",")
    source = WORK / "in" / "ct"
    export = WORK / "export"
    os.environ["EXPORT_ROOTS"] = str(export)
    setup_django()
    make_synthetic_ct_files(source, args.files)
    megabytes = sum(p.stat().st_size for p in source.iterdir()) / 1024**2
    print(f"{args.files} CT files, {megabytes:.0f} MB, {os.cpu_count()} cores")
    rows = []
    try:
        for target in targets:
            peer = gdcmconv_per_file(source, target, WORK / f"gdcm-{target}") \
                if target in GDCMCONV else None
            timings = {"in-process": in_process(source, target, WORK / f"ours-{target}")}
            for label, workers, concurrency in CONFIGURATIONS:
                with contextlib.ExitStack() as stack:
                    for n in range(workers):
                        stack.enter_context(celery_worker(concurrency=concurrency,
                                                          name=f"w{n}"))
                    out = export / f"{target}-{label}"
                    timings[label], result = console_job(source, target, out)
                    shutil.rmtree(out, ignore_errors=True)
                print(f"  {target}: {label} {timings[label]:.2f} s, batches by helpers "
                      f"{result.get('batches_by_helpers')}, ratio "
                      f"{result.get('compression_ratio')}:1", flush=True)
            rows.append((target, peer, timings))
    finally:
        cleanup()
    columns = ["in-process", *(label for label, _, _ in CONFIGURATIONS)]
    print(f"\n{'target':<18}{'gdcmconv/file':>15}" + "".join(f"{c:>22}" for c in columns)
          + f"{'2 vs 1 worker':>15}")
    for target, peer, timings in rows:
        cells = "".join(f"{_rate(args.files, timings[c]) + ' ' + _times(peer, timings[c]):>22}"
                        for c in columns)
        scaling = timings["job, 1 worker"] / timings["job, 2 workers"]
        print(f"{target:<18}{_rate(args.files, peer):>15}{cells}{scaling:>14.2f}×")


# (label, worker processes, concurrency of each)
CONFIGURATIONS = [("job, 1 worker", 1, 1), ("job, 2 workers", 2, 1),
                  ("job, deployed worker", 1, 4)]


def in_process(source: Path, target: str, out: Path) -> float:
    """The converter alone, file after file in this process (no job, no database)."""
    from archive.conversions.syntaxes import TargetSyntax
    from archive.conversions.transcode import TranscodeOptions, transcode_file

    out.mkdir(parents=True, exist_ok=True)
    options = TranscodeOptions(target=TargetSyntax(target))
    started = time.perf_counter()
    for path in sorted(source.iterdir()):
        transcode_file(path, out, options)
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def _rate(files: int, seconds: float | None) -> str:
    return f"{files / seconds:.1f} f/s" if seconds else "—"


def _times(peer: float | None, seconds: float) -> str:
    return f"({peer / seconds:.2f}×)" if peer else ""


if __name__ == "__main__":
    main()
