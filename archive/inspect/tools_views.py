"""Pages of the multi-file tools: diff of two files, scanner over many, format patterns."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from pydicom import dcmread

from archive.imports.roots import PathRefused, resolve_import_path
from archive.inspect.diff import diff_datasets
from archive.inspect.loading import Unreadable, load
from archive.inspect.patterns import BadPattern, apply_pattern, compile_pattern, parse_overrides
from archive.inspect.scanner import BadTag, header, parse_tags, scan, to_csv
from archive.inspect.sources import resolve_source, uploaded_files
from archive.models import Instance, Study
from archive.storage import absolute_path
from console.roles import Role, request_user, role_required
from netjobs.models import Job

MAX_SCAN_FILES = 20000


def _file_ref(request: HttpRequest, ref: str) -> Path:
    """'instance:12' or 'upload:<token>' → the file (404 when not the user's / not there)."""
    kind, _, ident = ref.partition(":")
    return resolve_source(request_user(request), kind.strip(), ident.strip()).path


@role_required(Role.VIEWER)
def tools_home(request: HttpRequest) -> HttpResponse:
    return render(request, "archive/tools.html")


def _positive(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdecimal() and int(text) > 0 else None


@role_required(Role.VIEWER)
def diff_page(request: HttpRequest) -> HttpResponse:
    first, second = request.GET.get("a", ""), request.GET.get("b", "")
    context: dict[str, object] = {"a": first, "b": second,
                                  "meta": bool(request.GET.get("meta")),
                                  "truncate": request.GET.get("truncate", ""),
                                  "uploads": uploaded_files(request_user(request))}
    if first and second:
        truncate = request.GET.get("truncate", "")
        try:
            left, right = load(_file_ref(request, first)), load(_file_ref(request, second))
        except Unreadable as exc:
            context["error"] = str(exc)
        else:
            context["differences"] = diff_datasets(
                left.dataset, right.dataset, include_meta=bool(request.GET.get("meta")),
                truncate=_positive(truncate))
    return render(request, "archive/diff.html", context)


def _number(request: HttpRequest, name: str) -> int:
    value = request.GET.get(name, "")
    if not (value.isascii() and value.isdecimal()):
        raise Http404(f"{name} must be a number")
    return int(value)


def _scope_files(request: HttpRequest) -> tuple[str, list[tuple[str, Path]]]:
    if "study" in request.GET:
        study = get_object_or_404(Study, pk=_number(request, "study"))
        instances = Instance.objects.filter(series__study=study).order_by(
            "series__series_number", "instance_number")
        return f"study {study}", [(i.sop_instance_uid, absolute_path(i.file_path))
                                  for i in instances[:MAX_SCAN_FILES]]
    if "job" in request.GET:
        job = get_object_or_404(Job, pk=_number(request, "job"))
        instances = Instance.objects.filter(source_job=job)
        return f"import job {job.pk}", [(i.source_detail or i.sop_instance_uid,
                                         absolute_path(i.file_path))
                                        for i in instances[:MAX_SCAN_FILES]]
    folder = resolve_import_path(request.GET.get("path", ""))
    files = sorted(p for p in folder.rglob("*") if p.is_file())[:MAX_SCAN_FILES] \
        if folder.is_dir() else [folder]
    return str(folder), [(str(p.relative_to(folder)) if p != folder else p.name, p)
                         for p in files]


@role_required(Role.VIEWER)
def scanner_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {"tags_text": request.GET.get("tags", "PatientName PatientID "
                                                               "StudyDate Modality "
                                                               "SOPInstanceUID"),
                                  "query": request.GET.urlencode(),
                                  "import_roots": settings.IMPORT_ROOTS}
    if any(key in request.GET for key in ("study", "job", "path")):
        try:
            tags = parse_tags(str(context["tags_text"]))
            scope, files = _scope_files(request)
        except (BadTag, PathRefused) as exc:
            context["error"] = str(exc)
        else:
            rows = scan(files, tags)
            if request.GET.get("format") == "csv":
                response = HttpResponse(to_csv(rows, tags), content_type="text/csv")
                response["Content-Disposition"] = 'attachment; filename="scan.csv"'
                return response
            context.update(scope=scope, header=header(tags), rows=rows)
    return render(request, "archive/scanner.html", context)


@role_required(Role.VIEWER)
def pattern_page(request: HttpRequest) -> HttpResponse:
    pattern = request.GET.get("pattern", "{0020000D,hash}/{0020000E,hash}/{00080018}")
    overrides_text = request.GET.get("set", "")
    context: dict[str, object] = {"pattern": pattern, "set": overrides_text,
                                  "study": request.GET.get("study", ""),
                                  "instance": request.GET.get("instance", "")}
    if request.GET.get("study") or request.GET.get("instance"):
        try:
            parts = compile_pattern(pattern)
            overrides = parse_overrides(overrides_text)
        except BadPattern as exc:
            context["error"] = str(exc)
        else:
            if request.GET.get("instance"):
                instances = [get_object_or_404(Instance, pk=_number(request, "instance"))]
            else:
                instances = list(Instance.objects.filter(
                    series__study_id=_number(request, "study")).order_by("instance_number")[:5000])
            results = []
            for instance in instances:
                ds = dcmread(absolute_path(instance.file_path), stop_before_pixels=True,
                             force=True)
                results.append((instance, apply_pattern(parts, ds, overrides)))
            context["results"] = results
    return render(request, "archive/pattern.html", context)
