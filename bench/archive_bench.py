"""Archive benchmarks for issue 3, side by side with the peer tools, on loopback only.

    .venv/bin/python bench/archive_bench.py [--files 500] [--instances 1000000]

- import: N CT files of 512×512 16-bit (about 512 KB each) imported from a server folder by
  the console's import job (run in-process, the real code path), and the same files sent by
  DCMTK storescu to Orthanc (Debian's package), which stores and indexes them;
- dump page: server time of the dump page of one of those CTs (median of 50);
- study search: p95 of archive searches with M instances indexed (PostgreSQL when
  DATABASE_URL points to one; the script seeds the rows and removes them after).

Everything runs in a throwaway CONSOLE_VAR_DIR; Orthanc listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import WORK, Orthanc, cleanup, make_ct_files, setup_django, storescu

setup_django()

from django.contrib.auth.models import User  # noqa: E402
from django.test import Client  # noqa: E402


def bench_console_import(folder: Path) -> float:
    from netjobs.jobs.runner import run_job
    from netjobs.models import Job, JobStatus

    owner = User.objects.get(username="bench")
    job = Job.objects.create(kind="import", params={"path": str(folder), "duplicates": "keep"},
                             owner=owner, summary="bench import")
    started = time.perf_counter()
    status = run_job(job.pk)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    assert status == JobStatus.SUCCEEDED, job.error
    return elapsed


def bench_orthanc(folder: Path) -> float:
    orthanc = Orthanc()
    try:
        return storescu(orthanc.dicom_port, "ORTHANC", folder)
    finally:
        orthanc.stop()


def bench_dump_page(client: Client) -> float:
    from archive.models import Instance

    instance = Instance.objects.filter(rows=512).first()
    assert instance is not None
    url = f"/inspect/instance/{instance.pk}/"
    client.get(url)
    samples = []
    for _ in range(50):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(samples)


def seed_instances(total: int) -> None:
    """total instances: 2 series of 50 instances per study, many patients."""
    from archive.models import Instance, Patient, Series, Study

    per_study = 100
    studies = max(1, total // per_study)
    batch = 500
    names = ["SMITH^JOHN", "DOE^JANE", "MÜLLER^HANS", "GARCIA^MARIA", "WANG^LEI", "KIM^MIN"]
    modalities = ["CT", "MR", "US", "CR", "XA", "PT"]
    for start in range(0, studies, batch):
        count = min(batch, studies - start)
        patients = Patient.objects.bulk_create([
            Patient(patient_id=f"B{start + i:07d}", patient_name=f"{names[i % 6]}{start + i}",
                    patient_name_search=f"{names[i % 6]}{start + i}".upper())
            for i in range(count)])
        study_rows = Study.objects.bulk_create([
            Study(patient=patients[i], study_instance_uid=f"2.25.1{start + i}",
                  study_date=f"20{10 + (start + i) % 15}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                  accession_number=f"ACC{start + i}", study_description=f"Study {i % 37}",
                  modalities_in_study=modalities[i % 6], number_of_series=2,
                  number_of_instances=per_study)
            for i in range(count)])
        series_rows = Series.objects.bulk_create([
            Series(study=study, series_instance_uid=f"{study.study_instance_uid}.{s}",
                   modality=study.modalities_in_study, number_of_instances=per_study // 2)
            for study in study_rows for s in range(2)])
        Instance.objects.bulk_create([
            Instance(series=series, sop_instance_uid=f"{series.series_instance_uid}.{k}",
                     sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                     transfer_syntax_uid="1.2.840.10008.1.2.1",
                     file_path="bench", file_size=1, sha256="0", source="path")
            for series in series_rows for k in range(per_study // 2)], batch_size=5000)


def bench_search(client: Client) -> tuple[float, float]:
    queries = [{"patient_name": "smith*"}, {"patient_name": "*jane1?"},
               {"patient_id": "B00012*"}, {"date_from": "2015-01-01", "date_to": "2015-02-01"},
               {"modality": "MR"}, {"accession": "ACC99*"}, {"description": "study 3*"},
               {"sort": "-date"}, {"patient_name": "müller*", "modality": "US"}, {}]
    samples = []
    for _ in range(10):
        for query in queries:
            started = time.perf_counter()
            response = client.get("/archive/", query)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--instances", type=int, default=1_000_000)
    args = parser.parse_args()
    from django.db import connection

    user = User.objects.create_superuser("bench", password="bench-pw-not-secret")
    client = Client()
    client.force_login(user)
    folder = WORK / "in" / "ct"
    make_ct_files(folder, args.files)
    size = sum(f.stat().st_size for f in folder.iterdir()) / 1024**2
    print(f"database: {connection.vendor}; {args.files} CT files, {size:.0f} MB")

    console = bench_console_import(folder)
    print(f"console import from a server folder: {console:.2f} s "
          f"({args.files / console:.0f} instances/s)")
    orthanc = bench_orthanc(folder)
    if orthanc:
        print(f"storescu → Orthanc: {orthanc:.2f} s ({args.files / orthanc:.0f} instances/s); "
              f"console/Orthanc time ratio {console / orthanc:.2f}")
    print(f"dump page of a 512×512 CT: median {bench_dump_page(client):.1f} ms")
    started = time.perf_counter()
    seed_instances(args.instances)
    print(f"seeded {args.instances} instances in {time.perf_counter() - started:.0f} s")
    median, p95 = bench_search(client)
    print(f"study search over {args.instances + args.files} instances: median {median:.1f} ms, "
          f"p95 {p95:.1f} ms")


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
