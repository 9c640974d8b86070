"""DICOMDIR building for issue 14, side by side in one run: DCMTK ``dcmmkdir`` against the
console's build, with pydicom's FileSet as a third figure, and a large medium's memory.

    .venv/bin/python bench/dicomdir_bench.py [--files 500] [--repeat 3] [--large 10000]
        [--json out.json]

N CT slices (the corpus's 693_UNCI.dcm, 512×512, about 514 KB each) are written with their
own UIDs over 5 patients, 2 studies each and 2 series per study, every record key present.
The console's ``build_fileset`` lays them out once as ``DICOM/PA…/ST…/SE…/IM…``; then, on
that same laid-out folder, each ``--repeat`` times (interleaved):

- ``dcmmkdir -q -Pgp -nb +r +id <folder> +D <out>/DICOMDIR DICOM`` (headers read, records
  made, DICOMDIR written: nothing copied);
- the console's same work, in this process: ``read_header`` + ``instance_records`` for each
  file, the records merged as the build merges them (``RecordTree``), ``write_dicomdir``;
  split into "headers+records" and "DICOMDIR written";
- the console's whole ``build_fileset`` into a new folder, which also copies every file,
  with its own phase times (headers, copy, dicomdir);
- pydicom's ``FileSet``: ``add`` each file, ``write`` to a new folder (it copies the files).

The DICOMDIR ratio (console / dcmmkdir, fastest of each) is the figure of the issue's goal
(≤ 2×); copying is measured apart. Then a ``--large`` medium (10,000 IMAGE records, keys of
a real header, new UIDs, 100 per series) is encoded, written and read back in a child
process each, whose peak RSS (ru_maxrss) is reported beside a child that only imports the
same modules, and ``dcmdump +dc`` reads the same file for comparison.

A measurement, never an assertion. Everything lives under a temporary folder, removed at
the end; no network is used.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import CORPUS, ROOT, WORK, cleanup, setup_django

PATIENTS, STUDIES, SERIES = 5, 2, 2
LARGE_PER_SERIES = 100


def make_files(folder: Path, count: int) -> list[Path]:
    """``count`` CT files spread over patients, studies and series, with every record key."""
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    template = dcmread(CORPUS / "693_UNCI.dcm")
    folder.mkdir(parents=True)
    groups = [(p, s, e) for p in range(PATIENTS) for s in range(STUDIES) for e in range(SERIES)]
    uids = {key: (generate_uid(), generate_uid()) for key in groups}
    paths = []
    for index in range(count):
        patient, study, series = groups[index % len(groups)]
        study_uid, series_uid = uids[(patient, study, series)][0], uids[(patient, study,
                                                                          series)][1]
        if series == 1:  # both series of a study share the study's UID
            study_uid = uids[(patient, study, 0)][0]
        template.PatientName, template.PatientID = f"Bench^Patient{patient}", f"BENCH{patient}"
        template.StudyInstanceUID, template.SeriesInstanceUID = study_uid, series_uid
        template.StudyID, template.StudyDate, template.StudyTime = f"S{study}", "20240101", \
            "101010"
        template.AccessionNumber, template.StudyDescription = f"A{patient}{study}", "Bench"
        template.SeriesNumber, template.InstanceNumber = series + 1, index + 1
        template.SOPInstanceUID = generate_uid()
        template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
        path = folder / f"ct{index:05d}.dcm"
        template.save_as(path)
        paths.append(path)
    return paths


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def dcmmkdir(laid: Path, out: Path) -> None:
    fresh(out)
    subprocess.run(["dcmmkdir", "-q", "-Pgp", "-nb", "+r", "+id", str(laid), "+D",
                    str(out / "DICOMDIR"), "DICOM"], check=True, timeout=600)


def console_dicomdir(laid: Path, out: Path) -> tuple[float, float, int]:
    """Headers+records and DICOMDIR seconds for the laid-out files, and the IMAGE count."""
    from archive.media.build.tree import RecordTree
    from archive.media.dicomdir.elements import keyword_tag, text
    from archive.media.dicomdir.model import Directory, Record
    from archive.media.dicomdir.records import instance_records, read_header
    from archive.media.dicomdir.writer import write_dicomdir

    fresh(out)
    started = time.perf_counter()
    tree = RecordTree(Directory(fileset_id="BENCH"))
    for path in sorted((laid / "DICOM").rglob("IM*")):
        ds = read_header(path)
        keys = instance_records(ds, None)
        meta = ds.file_meta
        tree.add(keys, Record(keys.leaf_type, keys.leaf,
                              file_id=path.relative_to(laid).parts,
                              sop_class_uid=text(meta, keyword_tag("MediaStorageSOPClassUID")),
                              sop_instance_uid=text(ds, keyword_tag("SOPInstanceUID")),
                              transfer_syntax_uid=text(meta, keyword_tag("TransferSyntaxUID"))))
    headers = time.perf_counter() - started
    started = time.perf_counter()
    write_dicomdir(tree.directory, out / "DICOMDIR")
    return headers, time.perf_counter() - started, len(tree.instances)


def console_build(sources: list[Path], out: Path) -> dict[str, float]:
    from archive.media.build import BuildOptions, MediumSource, build_fileset

    shutil.rmtree(out, ignore_errors=True)
    report = build_fileset(out, [MediumSource(p, p.name) for p in sources],
                           BuildOptions(fileset_id="BENCH", readme=False))
    return dict(report.seconds)


def pydicom_fileset(sources: list[Path], out: Path) -> None:
    from pydicom.fileset import FileSet

    fileset = FileSet()
    for path in sources:
        fileset.add(path)
    fileset.write(fresh(out))


def dcmdump_images(dicomdir: Path) -> int:
    done = subprocess.run(["dcmdump", "+dc", "-q", str(dicomdir)], capture_output=True,
                          text=True, check=True, timeout=600)
    if done.stderr.strip():
        raise RuntimeError(f"dcmdump: {done.stderr.strip()[:300]}")
    return done.stdout.count("(0004,1430) CS [IMAGE]")


# the large medium, in child processes --------------------------------------------------------
def large_directory(count: int) -> Any:
    from pydicom.uid import generate_uid

    from archive.media.dicomdir.invent import Inventor
    from archive.media.dicomdir.model import Directory, Record
    from archive.media.dicomdir.records import instance_records, read_header

    keys = instance_records(read_header(CORPUS / "693_UNCI.dcm"), Inventor())
    directory = Directory(fileset_id="LARGE")
    series_count = max(1, count // LARGE_PER_SERIES)
    for patient_index in range(max(1, series_count // 4)):
        patient = Record("PATIENT", keys.patient)
        directory.roots.append(patient)
        study = Record("STUDY", keys.study)
        patient.children.append(study)
        for series_index in range(4):
            series = Record("SERIES", keys.series)
            study.children.append(series)
            for image in range(LARGE_PER_SERIES):
                series.children.append(Record(
                    "IMAGE", keys.leaf, file_id=("DICOM", f"PA{patient_index:06d}", "ST000000",
                                                 f"SE{series_index:06d}", f"IM{image:06d}"),
                    sop_class_uid="1.2.840.10008.5.1.4.1.1.2", sop_instance_uid=generate_uid(),
                    transfer_syntax_uid="1.2.840.10008.1.2.1"))
    return directory


def child(task: str, count: int, path: Path) -> None:
    """One measurement in this (child) process; prints JSON with seconds and peak RSS."""
    sys.path.insert(0, str(ROOT))
    import archive.media.dicomdir.records  # noqa: F401  (what every task imports, idle too)
    from archive.media.dicomdir.reader import read_dicomdir
    from archive.media.dicomdir.writer import write_dicomdir

    seconds = 0.0
    records = 0
    if task == "write":
        directory = large_directory(count)
        seconds, _ = timed(lambda: write_dicomdir(directory, path))
        records = sum(1 for _ in directory.walk())
    elif task == "read":
        seconds, reading = timed(lambda: read_dicomdir(path))
        records = reading.items
    print(json.dumps({"seconds": seconds, "records": records,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def in_child(task: str, count: int, path: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", task, "--large", str(count),
                           "--path", str(path)], capture_output=True, text=True, check=True,
                          timeout=900)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# the run --------------------------------------------------------------------------------------
def best(values: list[float]) -> float:
    return min(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=["write", "read", "idle"])
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child:
        try:
            child(args.child, args.large, args.path)
        finally:
            cleanup()  # the temporary folder importing common made
        return
    setup_django()
    try:
        run(args)
    finally:
        cleanup()


def run(args: argparse.Namespace) -> None:
    print(f"{args.files} CT files, {PATIENTS} patients × {STUDIES} studies × {SERIES} series; "
          f"best of {args.repeat}", flush=True)
    sources = make_files(WORK / "src", args.files)
    laid = WORK / "laid"
    console_build(sources, laid)
    times: dict[str, list[float]] = {name: [] for name in (
        "dcmmkdir", "console headers+records", "console DICOMDIR written", "console DICOMDIR",
        "console build: headers", "console build: copy", "console build: dicomdir",
        "console build: whole", "pydicom FileSet add+write")}
    for _ in range(args.repeat):
        seconds, _ = timed(lambda: dcmmkdir(laid, WORK / "dcmtk"))
        times["dcmmkdir"].append(seconds)
        headers, written, _images = console_dicomdir(laid, WORK / "ours")
        times["console headers+records"].append(headers)
        times["console DICOMDIR written"].append(written)
        times["console DICOMDIR"].append(headers + written)
        seconds, phases = timed(lambda: console_build(sources, WORK / "built"))
        for phase in ("headers", "copy", "dicomdir"):
            times[f"console build: {phase}"].append(phases.get(phase, 0.0))
        times["console build: whole"].append(seconds)
        seconds, _ = timed(lambda: pydicom_fileset(sources, WORK / "pydicom"))
        times["pydicom FileSet add+write"].append(seconds)
    checks = {"dcmmkdir": dcmdump_images(WORK / "dcmtk" / "DICOMDIR"),
              "console": dcmdump_images(WORK / "ours" / "DICOMDIR"),
              "console build": dcmdump_images(WORK / "built" / "DICOMDIR")}
    reference = best(times["dcmmkdir"])
    print(f"\n| {'what':<34} | {'best s':>8} | {'median s':>8} | {'÷ dcmmkdir':>10} |")
    print(f"|{'-' * 36}|{'-' * 10}:|{'-' * 10}:|{'-' * 12}:|")
    for name, values in times.items():
        print(f"| {name:<34} | {best(values):8.3f} | {statistics.median(values):8.3f} | "
              f"{best(values) / reference:9.2f}× |")
    print(f"\nIMAGE records dcmdump +dc reads: {checks}")
    ratio = best(times["console DICOMDIR"]) / reference
    large = WORK / "large" / "DICOMDIR"
    large.parent.mkdir()
    idle = in_child("idle", args.large, large)
    wrote = in_child("write", args.large, large)
    read = in_child("read", args.large, large)
    dump_seconds, dumped = timed(lambda: dcmdump_images(large))
    size_mb = large.stat().st_size / 1e6
    print(f"\nLarge medium: {wrote['records']} records ({dumped} IMAGE), DICOMDIR {size_mb:.1f} "
          f"MB")
    print(f"| {'child process':<28} | {'seconds':>8} | {'peak RSS MB':>11} | "
          f"{'above idle MB':>13} |")
    print(f"|{'-' * 30}|{'-' * 10}:|{'-' * 13}:|{'-' * 15}:|")
    for name, figures in (("imports only", idle), ("build records + write", wrote),
                          ("read back", read)):
        print(f"| {name:<28} | {figures['seconds']:8.3f} | {figures['rss_mb']:11.1f} | "
              f"{figures['rss_mb'] - idle['rss_mb']:13.1f} |")
    print(f"| {'dcmdump +dc (DCMTK)':<28} | {dump_seconds:8.3f} | {'':>11} | {'':>13} |")
    print(f"\nThe DICOMDIR of {args.files} files: console {best(times['console DICOMDIR']):.3f} s"
          f" against dcmmkdir {reference:.3f} s = {ratio:.2f}× (goal ≤ 2×); copying the files "
          f"is {best(times['console build: copy']):.3f} s apart. pydicom's FileSet took "
          f"{best(times['pydicom FileSet add+write']):.3f} s. A {wrote['records']}-record "
          f"DICOMDIR is written with {wrote['rss_mb'] - idle['rss_mb']:.1f} MB and read with "
          f"{read['rss_mb'] - idle['rss_mb']:.1f} MB above an idle process's "
          f"{idle['rss_mb']:.1f} MB.")
    if args.json:
        args.json.write_text(json.dumps({"times": times, "checks": checks, "ratio": ratio,
                                         "large": {"idle": idle, "write": wrote, "read": read,
                                                   "dcmdump_seconds": dump_seconds,
                                                   "dicomdir_mb": size_mb}}, indent=2))


if __name__ == "__main__":
    main()
