"""QIDO-RS search times over a large index (issue 15's goal: study search p95 under 100 ms at
1 M instances, PostgreSQL).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/qido_bench \\
        .venv/bin/python bench/qido_bench.py [--studies 20000] [--runs 50] [--reuse]

The index is filled with ``--studies`` studies of one patient each, 2 series per study and
25 instances per series (20,000 studies = 1,000,000 instances), rows only (no files: QIDO-RS
reads only the index). Then each search below is asked ``--runs`` times through the Django
test client (view, matching, JSON; no network) as a logged-in Viewer, and its median and
95th percentile are printed. The database named by DATABASE_URL is emptied first: give a
scratch one (``--reuse`` keeps rows an earlier run left there). A measurement, never an
assertion.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from typing import Any

from common import cleanup, setup_django

SERIES_PER_STUDY, INSTANCES_PER_SERIES = 2, 25
BATCH = 5000
NAMES = ("Doe", "Roe", "Smith", "Jones", "Brown", "Garcia", "Miller", "Davis")


def fill(studies: int) -> dict[str, str]:
    """The index rows; a few UIDs and values to search for."""
    from archive.models import Instance, InstanceSource, Patient, Series, Study

    Instance.objects.all().delete()
    Series.objects.all().delete()
    Study.objects.all().delete()
    Patient.objects.all().delete()
    start = dt.date(2015, 1, 1)
    for first in range(0, studies, BATCH):
        numbers = range(first, min(studies, first + BATCH))
        patients = Patient.objects.bulk_create([
            Patient(patient_id=f"PID{n:07d}", patient_name=f"{NAMES[n % 8]}^Given{n}",
                    patient_name_search=f"{NAMES[n % 8]}^GIVEN{n}",
                    birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=n % 20000),
                    sex="FM"[n % 2]) for n in numbers])
        made = Study.objects.bulk_create([
            Study(patient=patient, study_instance_uid=f"1.2.826.0.1.3680043.9.7.1.{n}",
                  study_date=start + dt.timedelta(days=n % 3650),
                  study_time=dt.time(8 + n % 10, n % 60), accession_number=f"ACC{n:07d}",
                  study_id=str(n % 10000), study_description=f"Study {n % 50}",
                  modalities_in_study="CT" if n % 3 else "MR\\SR",
                  number_of_series=SERIES_PER_STUDY,
                  number_of_instances=SERIES_PER_STUDY * INSTANCES_PER_SERIES)
            for patient, n in zip(patients, numbers, strict=True)])
        series = Series.objects.bulk_create([
            Series(study=study, series_instance_uid=f"{study.study_instance_uid}.{k}",
                   modality="CT" if n % 3 else "MR", series_number=k + 1,
                   series_description=f"Series {k}", number_of_instances=INSTANCES_PER_SERIES)
            for study, n in zip(made, numbers, strict=True) for k in range(SERIES_PER_STUDY)])
        Instance.objects.bulk_create([
            Instance(series=one, sop_instance_uid=f"{one.series_instance_uid}.{i}",
                     sop_class_uid="1.2.840.10008.5.1.4.1.1.2", instance_number=i + 1,
                     transfer_syntax_uid="1.2.840.10008.1.2.1", rows=512, columns=512,
                     file_path=f"x/{one.pk}/{i}.dcm", file_size=526000,
                     source=InstanceSource.UPLOAD)
            for one in series for i in range(INSTANCES_PER_SERIES)], batch_size=BATCH)
        print(f"  {min(studies, first + BATCH)} studies", flush=True)
    return known_values(studies)


def known_values(studies: int) -> dict[str, str]:
    middle = studies // 2
    study_uid = f"1.2.826.0.1.3680043.9.7.1.{middle}"
    return {"study": study_uid, "series": f"{study_uid}.1", "instance": f"{study_uid}.1.7",
            "patient_id": f"PID{middle:07d}", "accession": f"ACC{middle:07d}"}


def searches(known: dict[str, str]) -> list[tuple[str, str]]:
    ohif = "limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060"
    return [
        ("study list as OHIF asks it", f"/dicomweb/studies?{ohif}"),
        ("studies, PatientName=doe*", f"/dicomweb/studies?PatientName=doe*&{ohif}"),
        ("studies, PatientID exact", f"/dicomweb/studies?PatientID={known['patient_id']}"),
        ("studies, AccessionNumber exact",
         f"/dicomweb/studies?AccessionNumber={known['accession']}"),
        ("studies, StudyDate one month", f"/dicomweb/studies?StudyDate=20200101-20200131&{ohif}"),
        ("studies, ModalitiesInStudy=MR", f"/dicomweb/studies?ModalitiesInStudy=MR&{ohif}"),
        ("studies, StudyInstanceUID", f"/dicomweb/studies?StudyInstanceUID={known['study']}"),
        ("studies, last page (offset 19900)", "/dicomweb/studies?limit=100&offset=19900"),
        ("series of one study", f"/dicomweb/studies/{known['study']}/series"),
        ("instances of one series",
         f"/dicomweb/studies/{known['study']}/series/{known['series']}/instances"),
        ("instances, SOPInstanceUID", f"/dicomweb/instances?SOPInstanceUID={known['instance']}"),
    ]


def measure(client: Any, url: str, runs: int) -> tuple[float, float, int]:
    times, count = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:200])
        count = len(response.json())
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="keep an earlier run's rows")
    args = parser.parse_args()
    setup_django()
    try:
        from django.conf import settings
        from django.contrib.auth.models import Group, User
        from django.test import Client

        from console.roles import Role, ensure_role_groups

        settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        from archive.models import Study

        started = time.perf_counter()
        if args.reuse and Study.objects.count() == args.studies:
            known = known_values(args.studies)
        else:
            known = fill(args.studies)
        instances = args.studies * SERIES_PER_STUDY * INSTANCES_PER_SERIES
        print(f"{args.studies} studies, {instances} instances ({engine}) filled in "
              f"{time.perf_counter() - started:.0f} s")
        ensure_role_groups()
        user, _ = User.objects.get_or_create(username="qido-bench")
        user.groups.add(Group.objects.get(name=Role.VIEWER.group_name))
        client = Client()
        client.force_login(user)
        print("\n| search | results | median ms | p95 ms |\n|---|---:|---:|---:|")
        for label, url in searches(known):
            measure(client, url, 3)  # warm
            median, p95, count = measure(client, url, args.runs)
            print(f"| {label} | {count} | {median:.1f} | {p95:.1f} |", flush=True)
    finally:
        cleanup()


if __name__ == "__main__":
    main()
