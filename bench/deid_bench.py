"""De-identification throughput for issue 13: the console's ``deidentify`` job, submit to
finish through a real Celery worker, side by side with GDCM's ``gdcmanon`` over the same folder.

    DATABASE_URL=postgresql://…/scratch .venv/bin/python bench/deid_bench.py [--files 500]
        [--repeat 3] [--concurrency 4] [--profile 50] [--keep]

N CT slices (512×512 int16, about 512 KB each) carrying a patient's identifying values
(name, ID, birth date, accession number, institution, physicians, dates) are written under an
import root. Then, on the same folder:

- ``gdcmanon -c cert.pem -e --continue -r IN OUT`` (one process; gdcmanon always encrypts the
  replaced values into (0400,0500), so it needs a certificate: a throwaway RSA 2048 key and
  self-signed certificate made by openssl);
- pydicom's ``dcmread`` + ``save_as`` of every file, nothing changed (what any engine built on
  pydicom spends at least);
- ``archive.deid.engine.deidentify_file`` over every file in this one process (the engine
  alone, no job bookkeeping): irreversible; irreversible with the job's PHI scan of each
  output (``phi.scan_file``); reversible (the certificate) with the scan;
- the ``deidentify`` job of a project "bench" (Basic Profile), output to a folder under an
  export root, through one Celery worker as ``bin/run`` starts it (``--concurrency`` 4, the
  supervisor's default WORKER_CONCURRENCY), once irreversible and once reversible (the
  project's certificate is the one gdcmanon uses).

Each is timed by the wall clock for the whole folder (the job: from ``create_job`` to its
terminal state); each ``--repeat`` times (interleaved), as other load on the machine
disturbs single runs. The table gives the fastest and the median seconds, files/s of the
fastest and that rate as a multiple of gdcmanon's fastest; the goal of issue 13 is at
least 2×. It is a measurement, never an assertion. The job lines also give the job's own
``result["files_per_second"]`` and its items' outcomes. ``--profile N`` adds a cProfile of
the engine (and the job's PHI scan of each output) over N files.

Everything lives under a temporary folder (removed at the end unless ``--keep``); the worker
and Redis are reached on 127.0.0.1 only; every process started is stopped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import CORPUS, WORK, celery_worker, cleanup, setup_django

DEFAULT_CONCURRENCY = 4  # console/supervisor.py: WORKER_CONCURRENCY, default "4"
JOB_TIMEOUT_SECONDS = 1800
WARM_UP_FILES_PER_PROCESS = 8  # one batch (CONVERSION_BATCH_FILES) per worker process
PATIENT = {  # what a CT slice from a hospital carries (the template has almost none of it)
    "PatientName": "Doe^Jane^Q", "PatientID": "MRN-4471", "PatientBirthDate": "19610214",
    "PatientSex": "F", "PatientAge": "063Y", "OtherPatientIDs": "NHS-943 476 5919",
    "AccessionNumber": "ACC99812", "StudyID": "S-2291", "StudyDate": "20240311",
    "StudyTime": "101522", "SeriesDate": "20240311", "ContentDate": "20240311",
    "AcquisitionDate": "20240311", "InstitutionName": "St Mary Hospital",
    "InstitutionAddress": "1 Harbour Road, Portsmouth", "ReferringPhysicianName": "House^Gregory",
    "OperatorsName": "Tech^Tom", "PerformingPhysicianName": "Cuddy^Lisa",
    "StationName": "CT-ROOM-2", "DeviceSerialNumber": "SN-77812",
    "StudyDescription": "CT HEAD W/O CONTRAST", "Manufacturer": "ACME Medical",
}

# the template says it is de-identified already (the CQ500 set was); a hospital's file does not
NOT_YET_DEIDENTIFIED = ("PatientIdentityRemoved", "DeidentificationMethod",
                        "DeidentificationMethodCodeSequence")


@dataclass(frozen=True)
class Timing:
    """One tool's run over the folder: wall-clock seconds, files done, and a note."""

    tool: str
    files: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.files / self.seconds if self.seconds > 0 else 0.0


# the input ----------------------------------------------------------------------------------
def make_patient_ct_files(folder: Path, count: int) -> list[Path]:
    """``count`` slices of one CT series of one patient: the corpus' 512×512 int16 CT
    (693_UNCI.dcm) with new UIDs and the identifying values of PATIENT, no longer marked
    as de-identified."""
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    template = dcmread(CORPUS / "693_UNCI.dcm")
    for keyword, value in PATIENT.items():
        setattr(template, keyword, value)
    for keyword in NOT_YET_DEIDENTIFIED:  # gdcmanon refuses a file that says it was done
        if keyword in template:
            delattr(template, keyword)
    template.StudyInstanceUID, template.SeriesInstanceUID = generate_uid(), generate_uid()
    template.FrameOfReferenceUID = generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"CT{index:05d}.dcm" for index in range(count)]
    for index, path in enumerate(files):
        template.SOPInstanceUID = generate_uid()
        template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
        template.InstanceNumber = index + 1
        template.save_as(path)
    return files


def make_certificate(folder: Path) -> Path:
    """A throwaway RSA 2048 key and its self-signed X.509 certificate (PEM), as gdcmanon's
    manual makes them with openssl; the certificate's path."""
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = folder / "bench_key.pem", folder / "bench_cert.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", str(key), "-days", "2",
                    "-subj", "/CN=bench/O=DICOM console bench", "-out", str(cert)],
                   check=True, capture_output=True)
    return cert


# the peer -----------------------------------------------------------------------------------
def bench_gdcmanon(source: Path, out: Path, cert: Path, files: int) -> Timing:
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(["gdcmanon", "-c", str(cert), "-e", "--continue", "-r", str(source),
                    str(out)], check=True, capture_output=True, timeout=JOB_TIMEOUT_SECONDS)
    seconds = time.perf_counter() - started
    written = sum(1 for p in out.rglob("*") if p.is_file())
    return Timing("gdcmanon -c cert -e --continue -r (1 process)", files, seconds,
                  f"{written} files written")


# the console --------------------------------------------------------------------------------
def bench_engine(source: Path, out: Path, certificate: bytes | None, scan: bool) -> Timing:
    """deidentify_file over the folder in this process, with the job's configuration;
    ``scan``: each output also scanned for the input's identifying values, as the job does
    before it releases a file."""
    from archive.deid.config import DeidConfig, derived_pseudonym
    from archive.deid.engine import deidentify_file
    from archive.deid.models import DeidProject
    from archive.deid.phi import scan_file

    project = DeidProject.objects.get(name="bench")
    config = DeidConfig(project_key=project.key, certificate_pem=certificate,
                        pseudonym=derived_pseudonym(project.key, project.pseudonym_prefix))
    paths = sorted(source.iterdir())
    out.mkdir(parents=True, exist_ok=True)
    found = 0
    started = time.perf_counter()
    for path in paths:
        written, result = deidentify_file(path, out, config)
        if scan:
            found += len(scan_file(written, result.phi))
    seconds = time.perf_counter() - started
    how = ("reversible" if certificate else "irreversible") + (" + PHI scan" if scan else "")
    return Timing(f"engine in-process, {how} (1 process)", len(paths), seconds,
                  f"{found} PHI findings" if scan else "")


def bench_pydicom_floor(source: Path, out: Path) -> Timing:
    """pydicom's dcmread and save_as of every file, nothing changed: the least any engine
    built on pydicom spends per file."""
    from pydicom import dcmread

    paths = sorted(source.iterdir())
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for path in paths:
        dcmread(path).save_as(out / path.name)
    seconds = time.perf_counter() - started
    return Timing("pydicom read + write, no change (1 process; a floor)", len(paths), seconds)


def bench_job(source: Path, out: Path, reversible: bool, concurrency: int) -> Timing:
    """The deidentify job from submit to its terminal state; its own figures as a note."""
    from netjobs.jobs.services import create_job
    from netjobs.models import ItemOutcome, Job

    owner = operator()
    params = {"path": str(source), "project": "bench", "output": "folder", "folder": str(out),
              "reversible": reversible}
    started = time.perf_counter()
    job = create_job("deidentify", params, owner=owner)
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while not (row := Job.objects.get(pk=job.pk)).is_terminal:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job.pk} still {row.status}")
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    result: dict[str, Any] = row.result or {}
    good = row.items.filter(outcome__in=[ItemOutcome.SUCCEEDED, ItemOutcome.WARNING]).count()
    failed = row.items.filter(outcome=ItemOutcome.FAILED).count()
    total = row.items.count()
    first_failure = row.items.filter(outcome=ItemOutcome.FAILED).values_list(
        "message", flat=True).first()
    note = (f"{row.status}; {good}/{total} items released, {failed} failed, "
            f"held back {result.get('held_back', 0)}; job's own files/s "
            f"{result.get('files_per_second')}, helper batches "
            f"{result.get('batches_by_helpers')}")
    if first_failure:
        note += f"; first failure: {first_failure[:160]}"
    how = "reversible" if reversible else "irreversible"
    return Timing(f"console job, {how} (1 worker, --concurrency {concurrency})", total,
                  seconds, note)


def operator() -> Any:
    from django.contrib.auth.models import Group, User

    from console.roles import Role, ensure_role_groups

    ensure_role_groups()
    user, made = User.objects.get_or_create(username="bench-operator")
    if made:
        user.groups.add(Group.objects.get(name=Role.OPERATOR.group_name))
    return user


def make_project(cert: Path) -> None:
    from archive.deid.models import DeidProject

    DeidProject.objects.filter(name="bench").delete()
    DeidProject.objects.create(name="bench", description="deid_bench.py",
                               certificate_pem=cert.read_text())


def profile_engine(source: Path, out: Path, count: int, certificate: bytes | None) -> str:
    """cProfile of deidentify_file (and of the job's PHI scan of each output) over the
    first ``count`` files: the top functions by cumulative and by own time."""
    import cProfile
    import io
    import pstats

    from archive.deid.config import DeidConfig, derived_pseudonym
    from archive.deid.engine import deidentify_file
    from archive.deid.phi import scan_file

    key = b"bench-profile-key"
    config = DeidConfig(project_key=key, certificate_pem=certificate,
                        pseudonym=derived_pseudonym(key))
    out.mkdir(parents=True, exist_ok=True)
    paths = sorted(source.iterdir())[:count]
    deidentify_file(paths[0], out, config)  # imports and caches outside the profile
    profiler = cProfile.Profile()
    profiler.enable()
    for path in paths:
        written, result = deidentify_file(path, out, config)
        scan_file(written, result.phi)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return text.getvalue()


# the report ---------------------------------------------------------------------------------
def table(runs: dict[str, list[Timing]], peer: str) -> str:
    """One row per tool: its fastest run (the least disturbed by other load on the machine)
    and the median, files/s of the fastest, and that rate as a multiple of gdcmanon's."""
    def best(tool: str) -> Timing:
        return min(runs[tool], key=lambda run: run.seconds)

    peer_rate = best(peer).rate
    lines = ["| tool | files | seconds (best) | seconds (median) | files/s | rate vs gdcmanon |",
             "|---|---:|---:|---:|---:|---:|"]
    for tool, timings in runs.items():
        fastest = best(tool)
        median = statistics.median(run.seconds for run in timings)
        ratio = fastest.rate / peer_rate if peer_rate else 0.0
        lines.append(f"| {tool} | {fastest.files} | {fastest.seconds:.2f} | {median:.2f} | "
                     f"{fastest.rate:.1f} | {ratio:.2f}× |")
    return "\n".join(lines)


def record(runs: dict[str, list[Timing]], timing: Timing) -> None:
    runs.setdefault(timing.tool, []).append(timing)
    print(f"  {timing.tool}: {timing.seconds:.2f} s, {timing.rate:.1f} files/s"
          + (f"; {timing.note}" if timing.note else ""), flush=True)


def warm_up(source: Path, export: Path, concurrency: int) -> None:
    """An untimed job over a few files first, so that every worker process has imported
    and connected (a deployed worker has, long before a job comes)."""
    folder = WORK / "in" / "warm-up"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir())[:concurrency * WARM_UP_FILES_PER_PROCESS]:
        shutil.copyfile(path, folder / path.name)
    bench_job(folder, export / "warm-up", False, concurrency)
    shutil.rmtree(export / "warm-up", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each tool; the table gives the fastest and the median")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="the job worker's --concurrency (bin/run's default: 4)")
    parser.add_argument("--keep", action="store_true", help=f"keep {WORK}")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also cProfile the engine (+ PHI scan) over N files")
    args = parser.parse_args()
    export = WORK / "export"
    os.environ["EXPORT_ROOTS"] = str(export)
    try:
        setup_django()
        from django.db import connection

        source = WORK / "in" / "ct"
        make_patient_ct_files(source, args.files)
        cert = make_certificate(WORK / "keys")
        make_project(cert)
        megabytes = sum(p.stat().st_size for p in source.iterdir()) / 1024**2
        print(f"database: {connection.vendor}; {args.files} CT files, {megabytes:.0f} MB; "
              f"{os.cpu_count()} cores; worker --concurrency {args.concurrency}; "
              f"{args.repeat} run(s) of each", flush=True)
        runs: dict[str, list[Timing]] = {}
        peer = ""
        for _ in range(args.repeat):
            timing = bench_gdcmanon(source, WORK / "gdcmanon", cert, args.files)
            shutil.rmtree(WORK / "gdcmanon", ignore_errors=True)
            peer = timing.tool
            record(runs, timing)
            record(runs, bench_pydicom_floor(source, WORK / "floor"))
            shutil.rmtree(WORK / "floor", ignore_errors=True)
            for certificate, scan in ((None, False), (None, True), (cert.read_bytes(), True)):
                record(runs, bench_engine(source, WORK / "engine", certificate, scan))
                shutil.rmtree(WORK / "engine", ignore_errors=True)
        with celery_worker(concurrency=args.concurrency):
            warm_up(source, export, args.concurrency)
            for run in range(args.repeat):
                for reversible in (False, True):
                    out = export / f"{'reversible' if reversible else 'irreversible'}-{run}"
                    record(runs, bench_job(source, out, reversible, args.concurrency))
                    shutil.rmtree(out, ignore_errors=True)
        print()
        print(table(runs, peer))
        for certificate in (None, cert.read_bytes()) if args.profile else ():
            how = "reversible" if certificate else "irreversible"
            print(f"\ncProfile, deidentify_file + scan_file, {how}, {args.profile} files:")
            print(profile_engine(source, WORK / "profile", args.profile, certificate))
    finally:
        if args.keep:
            print(f"kept {WORK}")
        else:
            cleanup()


if __name__ == "__main__":
    main()
