"""Screenshots of console pages in headless Chromium, at several widths, light and dark.

    .venv/bin/python bench/screenshots.py --port 8765 --out var/shots / /archive/ '/jobs/{job}/'

On first use in a var folder (CONSOLE_VAR_DIR, default var/shots-site) it seeds a demo site with
real traffic: the DICOM corpus imported by a real import job, remote AEs, echo jobs (one
succeeding against DCMTK storescp, one failing against a closed port), a store job of two
studies, a find job against DCMTK dcmqrscp-free storescp (refused, so the page shows a
failure), and a console listener that receives C-ECHOs and C-STOREs from DCMTK's echoscu and
storescu. Jobs run in this process through the same runner the Celery worker uses.

Then it runs the console (Django's server, no reloader) on the port, logs in as the seeded
administrator and writes ``<page>-<width>-<scheme>.png`` per path into --out. Placeholders in
paths: {study} {series} {instance} {job} {store_job} {failed_job} {find_job} {refused_find_job}
{import_job} {listener} {ae} {conversion_job} (a JPEG-LS lossless transcode of one corpus study
into the archive) {export_job} (its first series exported as PNG frames in a ZIP)
{conversion_study} (the study transcoded) {converted_instance} (one of its results)
{create_job} {edit_job} {objects_study} {photo_instance} {pdf_instance} {video_instance} (a
photo, a PDF and a video added to the first study; the photo then edited) {deid_project}
{deid_job} (a reversible de-identification of the first CT study) {deid_instance} (one of its
originals, for the preview) {medium} {media_job} (a ZIP medium of the first two studies)
{folder_medium} (a folder medium of the largest other study, one record deleted) {endpoint}
{qido_job} {wado_job} (a DICOMweb endpoint, the console's own, searched and its first study's
metadata retrieved). With
``--click SELECTOR`` the first element matching it (e.g. ``'.convert-menu summary'``) is clicked
on each page that has one before the screenshot, to show an open menu.

Only loopback addresses are used; every process started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
USERNAME = "shots"
PASSWORD = "shots-password-1"  # a throwaway demo account in a throwaway var folder
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def corpus_dir() -> Path:
    return Path(os.environ.get("DICOM_CORPUS", ROOT.parent / "shared" / "dicom-corpus")).resolve()


def site_environment(var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CONSOLE_VAR_DIR": str(var_dir),
        "STATIC_MANIFEST": "0",
        "IMPORT_ROOTS": f"{corpus_dir()},{var_dir / 'objects-in'}",
        "CONSOLE_QUEUE_PREFIX": f"shots{os.getpid()}-",
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DEBUG": "0",
        "WHITENOISE_USE_FINDERS": "1",
    }


def seed(var_dir: Path) -> dict[str, int]:
    """Fill a fresh site with real data; returns the IDs the path placeholders use."""
    os.environ.update(site_environment(var_dir))
    os.environ["CONVERSION_HELPERS"] = "0"  # no worker while seeding: the runner does it all
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from archive.models import Instance, Series, Study
    from console.celery import app
    from console.roles import Role, ensure_role_groups
    from netjobs.jobs.runner import run_job
    from netjobs.jobs.services import create_job
    from netjobs.listeners.manager import ListenerManager
    from netjobs.models import AEKind, ApplicationEntity, Job
    from netjobs.models.listeners import Listener

    call_command("migrate", verbosity=0)
    ensure_role_groups()
    user = User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=Role.ADMINISTRATOR.group_name))

    def run(kind: str, params: dict[str, object]) -> Job:
        job = create_job(kind, params, user)
        run_job(job.pk)
        job.refresh_from_db()
        return job

    ids: dict[str, int] = {}
    ids["import_job"] = run("import", {"path": str(corpus_dir())}).pk

    peer_dir = var_dir / "storescp-received"
    peer_dir.mkdir(parents=True, exist_ok=True)
    peer_port = free_port()
    peer = subprocess.Popen(
        ["storescp", "-aet", "PACS_PEER", "-od", str(peer_dir), "+B", str(peer_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    listener_port = free_port()
    manager = ListenerManager(owner="screenshots-seed")
    try:
        wait_for_port(peer_port)
        pacs = ApplicationEntity.objects.create(
            kind=AEKind.REMOTE, ae_title="PACS_PEER", host="127.0.0.1", port=peer_port,
            description="DCMTK storescp (demo peer)", connect_timeout=3, acse_timeout=5,
            dimse_timeout=5, network_timeout=5,
        )
        down = ApplicationEntity.objects.create(
            kind=AEKind.REMOTE, ae_title="OFFLINE_WS", host="127.0.0.1", port=free_port(),
            description="A workstation that is switched off", connect_timeout=1,
            acse_timeout=2, dimse_timeout=2, network_timeout=2,
        )
        ApplicationEntity.objects.create(
            kind=AEKind.REMOTE, ae_title="MODALITY1", host="127.0.0.1", port=104,
            description="CT scanner (sends to the console)", accepts_move_destination=True,
        )
        ids["ae"] = pacs.pk
        ids["job"] = run("echo", {"ae": pacs.pk}).pk
        ids["failed_job"] = run("echo", {"ae": down.pk}).pk
        studies = list(Study.objects.order_by("pk").values_list("pk", flat=True)[:2])
        ids["store_job"] = run("store", {"ae": pacs.pk, "studies": studies}).pk
        ids["refused_find_job"] = run(
            "find", {"ae": pacs.pk, "matching_keys": {"PatientName": "*"}}).pk

        listener = Listener.objects.create(
            name="Main storage", ae_title="CONSOLE", port=listener_port,
            mpps=True, storage_commitment=True,
        )
        ids["listener"] = listener.pk
        manager.reconcile()
        wait_for_port(listener_port)
        itself = ApplicationEntity.objects.create(
            kind=AEKind.REMOTE, ae_title="CONSOLE", host="127.0.0.1", port=listener_port,
            description="The console's own listener", accepts_move_destination=True,
            connect_timeout=3, acse_timeout=5, dimse_timeout=5, network_timeout=5,
        )
        ids["find_job"] = run("find", {"ae": itself.pk, "matching_keys": {"PatientName": "*"}}).pk
        for _ in range(3):
            subprocess.run(["echoscu", "-aet", "MODALITY1", "-aec", "CONSOLE", "127.0.0.1",
                            str(listener_port)], capture_output=True, timeout=30)
        subprocess.run(["echoscu", "-aet", "MODALITY1", "-aec", "WRONG_AE", "127.0.0.1",
                        str(listener_port)], capture_output=True, timeout=30)
        ct_files = sorted(str(p) for p in corpus_dir().glob("*.dcm"))[:6]
        subprocess.run(["storescu", "-aet", "MODALITY1", "-aec", "CONSOLE", "127.0.0.1",
                        str(listener_port), *ct_files], capture_output=True, timeout=60)
    finally:
        for listener_id in list(manager.running):
            manager.running.pop(listener_id).stop()
        peer.terminate()
        peer.wait(timeout=10)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(settings.JOBS_QUEUE)

    ids.update(seed_conversions(run))
    ids.update(seed_objects(run, var_dir))
    ids.update(seed_deid(run, var_dir))
    ids.update(seed_media(run))
    ids.update(seed_dicomweb(run, var_dir, user))
    ids["study"] = Study.objects.order_by("pk").values_list("pk", flat=True).first() or 0
    series = Series.objects.filter(number_of_instances__gt=1).order_by("pk").first()
    any_series = Series.objects.values_list("pk", flat=True).first() or 0
    ids["series"] = series.pk if series else any_series
    ids["instance"] = Instance.objects.order_by("pk").values_list("pk", flat=True).first() or 0
    return ids


def seed_conversions(run: Any) -> dict[str, int]:
    """A transcode job (JPEG-LS lossless, into the archive) of the corpus study with the most
    image instances, and an export_images job (PNG frames, ZIP) of its first series, both run
    through the job runner like the other seeded jobs."""
    from django.db.models import Count, Q

    from archive.conversions.jobs.names import ConversionKind
    from archive.conversions.syntaxes import TargetSyntax
    from archive.models import Instance, Study

    study = Study.objects.annotate(images=Count(
        "series__instances", filter=Q(series__instances__rows__isnull=False))).order_by(
        "-images", "pk").first()
    if study is None:
        return {}
    series = study.series.order_by("pk").first()
    export = run(ConversionKind.EXPORT_IMAGES, {
        "series": [series.pk] if series else [], "studies": [] if series else [study.pk],
        "format": "png", "output": "zip"})
    transcode = run(ConversionKind.TRANSCODE, {
        "studies": [study.pk], "target": TargetSyntax.JPEG_LS_LOSSLESS.value,
        "output": "archive", "new_uid": True})
    converted = Instance.objects.filter(source_job=transcode).order_by("pk").first()
    return {"conversion_job": transcode.pk, "export_job": export.pk,
            "conversion_study": study.pk,
            "converted_instance": converted.pk if converted else 0}


def seed_objects(run: Any, var_dir: Path) -> dict[str, int]:
    """A create job (a photo, a PDF and a video into a new series of the first study)
    and an edit job of the photo (its series description), run like the other jobs."""
    from archive.models import Instance, Study
    from tests.object_job_helpers import make_jpeg, make_mp4, make_pdf

    study = Study.objects.order_by("pk").first()
    if study is None:
        return {}
    folder = var_dir / "objects-in"
    folder.mkdir(parents=True, exist_ok=True)
    make_jpeg(folder / "wound-photo.jpg", size=(320, 240))
    make_pdf(folder / "discharge-letter.pdf", title="Discharge letter")
    make_mp4(folder / "endoscopy.mp4", seconds=2)
    create = run("create", {"path": str(folder), "attach_study": study.pk,
                            "image_class": "vl_photographic", "output": "archive",
                            "series_description": "Outside material"})
    made = {i.sop_class_uid: i.pk for i in Instance.objects.filter(source_job=create)}
    photo = made.get("1.2.840.10008.5.1.4.1.1.77.1.4", 0)
    edit = run("edit", {"instances": [photo], "changes": [
        {"path": "SeriesDescription", "action": "insert", "value": "Wound photos"},
        {"path": "BodyPartExamined", "action": "insert", "value": "ARM"}]}) if photo else None
    edited = Instance.objects.filter(source_job=edit).values_list("pk", flat=True).first() \
        if edit else None
    return {"create_job": create.pk, "edit_job": edit.pk if edit else 0,
            "objects_study": study.pk, "photo_instance": edited or photo,
            "pdf_instance": made.get("1.2.840.10008.5.1.4.1.1.104.1", 0),
            "video_instance": made.get("1.2.840.10008.5.1.4.1.1.77.1.1.1", 0)}


def seed_deid(run: Any, var_dir: Path) -> dict[str, int]:
    """A de-identification project with a certificate and two uploaded pseudonyms, and a
    reversible de-identify job of the first CT study into the archive."""
    from archive.deid.models import DeidProject, Pseudonym, PseudonymOrigin
    from archive.models import Instance, Study

    keys = var_dir / "deid-keys-demo"
    keys.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
                    "-subj", "/CN=Trial A re-identification/O=Demo", "-keyout",
                    str(keys / "key.pem"), "-out", str(keys / "cert.pem")],
                   check=True, capture_output=True)
    project = DeidProject.objects.create(
        name="trial-a", description="Multicentre trial A: deliveries to the core lab",
        certificate_pem=(keys / "cert.pem").read_text(), pseudonym_prefix="TA",
        created_by=USERNAME)
    for original, pseudonym in (("CQ500-CT-310", "TA-0001"), ("12345", "TA-0002")):
        Pseudonym.objects.create(project=project, original_patient_id=original,
                                 pseudonym_id=pseudonym, pseudonym_name=pseudonym,
                                 origin=PseudonymOrigin.UPLOADED)
    study = Study.objects.filter(series__modality="CT").order_by("pk").first()
    if study is None:
        return {"deid_project": project.pk}
    job = run("deidentify", {"studies": [study.pk], "project": "trial-a", "reversible": True,
                             "options": ["retain_modified_dates"], "output": "archive"})
    instance = Instance.objects.filter(series__study=study).order_by("pk").first()
    return {"deid_project": project.pk, "deid_job": job.pk,
            "deid_instance": instance.pk if instance else 0}


def seed_media(run: Any) -> dict[str, int]:
    """A ZIP medium of the first two studies and a folder medium of the largest other study
    under the export root, with one of its records deleted (inactive)."""
    from django.conf import settings
    from django.db.models import Count

    from archive.media.models import Medium
    from archive.models import Instance, Study

    studies = list(Study.objects.order_by("pk").values_list("pk", flat=True)[:2])
    rest = Study.objects.exclude(pk__in=studies).annotate(
        files=Count("series__instances")).order_by("-files", "pk").first()
    if len(studies) < 2 or rest is None:
        return {}
    studies.append(rest.pk)  # the folder medium: the largest other study
    zipped = run("mkmedia", {"studies": studies[:2], "medium": "zip", "fileset_id": "WARD 7",
                             "transcode": True, "invent": True})
    folder = Path(settings.EXPORT_ROOTS[0]) / "media-demo"
    built = run("mkmedia", {"studies": studies[2:], "medium": "folder", "folder": str(folder),
                            "fileset_id": "DEMO_FOLDER", "transcode": True, "invent": True})
    first = Instance.objects.filter(series__study_id=studies[2]).order_by("pk").first()
    if first is not None:
        run("dicomdir-delete", {"fileset": str(folder),
                                "sop_instance_uids": [first.sop_instance_uid]})
    media = {m.job_id: m.pk for m in Medium.objects.all()}
    return {"medium": media.get(zipped.pk, 0), "folder_medium": media.get(built.pk, 0),
            "media_job": zipped.pk}


def seed_dicomweb(run: Any, var_dir: Path, user: Any) -> dict[str, int]:
    """DICOMweb endpoints: the console's own /dicomweb/ (served for the while by a second
    console process) searched, checked and its first study's metadata retrieved; and an
    endpoint on a closed port whose check fails."""
    from archive.models import Study
    from console.tokens import issue_token
    from netjobs.models import DicomwebEndpoint, EndpointAuth

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT, env=site_environment(var_dir), stdout=subprocess.DEVNULL,
        stderr=(var_dir / "seed-server.log").open("ab"))
    try:
        wait_for_port(port)
        itself = DicomwebEndpoint.objects.create(
            name="console-self", base_url=f"http://127.0.0.1:{port}/dicomweb",
            description="This console's own DICOMweb service", auth=EndpointAuth.BEARER,
            token=issue_token(user, "dicomweb-demo").raw)
        down = DicomwebEndpoint.objects.create(
            name="vna-offline", base_url=f"http://127.0.0.1:{free_port()}/dcm4chee-arc/aets/"
                                         "DCM4CHEE/rs", description="Not running",
            connect_timeout=2)
        run("dicomweb_check", {"endpoint": itself.pk})
        run("dicomweb_check", {"endpoint": down.pk})
        qido = run("qido", {"endpoint": itself.pk, "matching": {"PatientName": "*"}})
        study = Study.objects.order_by("pk").values_list("study_instance_uid", flat=True)[0]
        wado = run("wado", {"endpoint": itself.pk, "study": study, "mode": "metadata"})
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"endpoint": itself.pk, "qido_job": qido.pk, "wado_job": wado.pk}


def page_name(path: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")
    return name or "dashboard"


def shoot(base: str, paths: list[str], out: Path, widths: list[int], schemes: list[str],
          full_page: bool, click: str = "") -> list[Path]:
    from playwright.sync_api import sync_playwright

    written: list[Path] = []
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for scheme in schemes:
                for width in widths:
                    context = browser.new_context(viewport={"width": width, "height": 900},
                                                  color_scheme=scheme)  # type: ignore[arg-type]
                    page = context.new_page()
                    page.goto(f"{base}/login/")
                    page.get_by_label("User name").fill(USERNAME)
                    page.get_by_label("Password").fill(PASSWORD)
                    page.get_by_role("button", name="Log in").click()
                    page.wait_for_load_state("networkidle")
                    for path in paths:
                        page.goto(f"{base}{path}")
                        page.wait_for_load_state("networkidle")
                        if click and page.locator(click).count():
                            page.locator(click).first.click()
                        target = out / f"{page_name(path)}-{width}-{scheme}.png"
                        page.screenshot(path=str(target), full_page=full_page)
                        written.append(target)
                    context.close()
        finally:
            browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=["/"])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "shots")
    parser.add_argument("--widths", default="1400,1024")
    parser.add_argument("--schemes", default="light,dark")
    parser.add_argument("--full-page", action="store_true")
    parser.add_argument("--click", default="", help="CSS selector clicked before each shot")
    parser.add_argument("--reseed", action="store_true", help="start the demo site afresh")
    args = parser.parse_args()

    var_dir = Path(os.environ.get("CONSOLE_VAR_DIR", ROOT / "var" / "shots-site")).resolve()
    ids_file = var_dir / "screenshot-ids.json"
    if args.reseed and var_dir.exists():
        shutil.rmtree(var_dir)
    if not ids_file.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        seeder = subprocess.run([sys.executable, __file__, "--seed-only"], env=site_environment(
            var_dir), cwd=ROOT) if "--seed-only" not in sys.argv else None
        if seeder is not None and seeder.returncode != 0:
            return seeder.returncode
    ids = json.loads(ids_file.read_text())
    paths = [p.format(**ids) for p in args.paths]

    args.out.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{args.port}"],
        cwd=ROOT, env={**site_environment(var_dir), "DEBUG": "1"},
        stdout=subprocess.DEVNULL, stderr=(var_dir / "server.log").open("ab"),
    )
    try:
        wait_for_port(args.port)
        written = shoot(f"http://127.0.0.1:{args.port}", paths, args.out,
                        [int(w) for w in args.widths.split(",")], args.schemes.split(","),
                        args.full_page, args.click)
    finally:
        server.terminate()
        server.wait(timeout=10)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    if "--seed-only" in sys.argv:
        folder = Path(os.environ["CONSOLE_VAR_DIR"])
        (folder / "screenshot-ids.json").write_text(json.dumps(seed(folder)))
        sys.exit(0)
    sys.exit(main())
