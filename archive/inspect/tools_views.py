"""Pages of the multi-file tools: diff of two files, scanner over many, format patterns."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from pydicom import dcmread

from archive.breadcrumbs import Crumb
from archive.imports.roots import PathRefused, resolve_import_path
from archive.inspect.diff import diff_datasets
from archive.inspect.loading import Unreadable, load
from archive.inspect.patterns import BadPattern, apply_pattern, compile_pattern, parse_overrides
from archive.inspect.scanner import BadTag, header, parse_tags, scan, to_csv
from archive.inspect.sources import resolve_source
from archive.inspect.tools_forms import (
    DEFAULT_PATTERN,
    DEFAULT_TAGS,
    DiffForm,
    PatternForm,
    ScannerForm,
)
from archive.models import Instance, Series, Study
from archive.pickers import PickLevel, choices_for
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
    return render(request, "archive/tools.html", {"crumbs": _crumbs()})


def _crumbs(current: str = "") -> list[Crumb]:
    crumbs = [Crumb("Archive", reverse("archive:study_list"))]
    if current:
        return [*crumbs, Crumb("Tools", reverse("archive:tools")), Crumb(current, "")]
    return [*crumbs, Crumb("Tools", "")]


def _diff_file(request: HttpRequest, chosen: Instance | str) -> Path:
    """A picked instance, or ``upload:<token>`` (404 when not the user's / not there)."""
    if isinstance(chosen, Instance):
        return _file_ref(request, f"instance:{chosen.pk}")
    return _file_ref(request, chosen)


@role_required(Role.VIEWER)
def diff_page(request: HttpRequest) -> HttpResponse:
    bound = "a" in request.GET and "b" in request.GET
    form = DiffForm(request.GET if bound else None, initial=request.GET.dict(),
                    user=request_user(request))
    context: dict[str, object] = {"form": form, "crumbs": _crumbs("Compare two files")}
    if bound and form.is_valid():
        data = form.cleaned_data
        try:
            left = load(_diff_file(request, data["a"]))
            right = load(_diff_file(request, data["b"]))
        except Unreadable as exc:
            context["error"] = str(exc)
        else:
            context["differences"] = diff_datasets(
                left.dataset, right.dataset, include_meta=data["meta"],
                truncate=data["truncate"] or None)
    return render(request, "archive/diff.html", context, status=_status(bound, form, context))


def _scope_files(data: dict[str, Any]) -> tuple[str, list[tuple[str, Path]]]:
    if data.get("study"):
        study: Study = data["study"]
        instances = Instance.objects.filter(series__study=study).order_by(
            "series__series_number", "instance_number")
        return choices_for(PickLevel.STUDY, [study])[0].summary, [
            (i.sop_instance_uid, absolute_path(i.file_path)) for i in instances[:MAX_SCAN_FILES]]
    if data.get("job"):
        job = get_object_or_404(Job, pk=data["job"])
        instances = Instance.objects.filter(source_job=job)
        return f"import job {job.pk}", [(i.source_detail or i.sop_instance_uid,
                                         absolute_path(i.file_path))
                                        for i in instances[:MAX_SCAN_FILES]]
    folder = resolve_import_path(data["path"])
    files = sorted(p for p in folder.rglob("*") if p.is_file())[:MAX_SCAN_FILES] \
        if folder.is_dir() else [folder]
    return str(folder), [(str(p.relative_to(folder)) if p != folder else p.name, p)
                         for p in files]


def _with_default(request: HttpRequest, name: str, default: str) -> QueryDict:
    data = request.GET.copy()
    if name not in data:
        data[name] = default
    return data


@role_required(Role.VIEWER)
def scanner_page(request: HttpRequest) -> HttpResponse:
    bound = any(key in request.GET for key in ("study", "job", "path"))
    form = ScannerForm(_with_default(request, "tags", DEFAULT_TAGS) if bound else None,
                       initial=request.GET.dict())
    context: dict[str, object] = {"form": form, "query": request.GET.urlencode(),
                                  "crumbs": _crumbs("Scanner")}
    if bound and form.is_valid():
        try:
            tags = parse_tags(form.cleaned_data["tags"])
            scope, files = _scope_files(form.cleaned_data)
        except (BadTag, PathRefused) as exc:
            context["error"] = str(exc)
        else:
            rows = scan(files, tags)
            if request.GET.get("format") == "csv":
                response = HttpResponse(to_csv(rows, tags), content_type="text/csv")
                response["Content-Disposition"] = 'attachment; filename="scan.csv"'
                return response
            context.update(scope=scope, header=header(tags), rows=rows)
    return render(request, "archive/scanner.html", context, status=_status(bound, form, context))


def _status(bound: bool, form: forms.Form, context: dict[str, object]) -> int:
    """422 for a request whose parameters were refused (the page says why), else 200."""
    return HTTPStatus.UNPROCESSABLE_ENTITY if bound and (form.errors or context.get("error")) \
        else HTTPStatus.OK


def _pattern_instances(chosen: Study | Series | Instance) -> list[Instance]:
    if isinstance(chosen, Instance):
        return [chosen]
    instances = Instance.objects.filter(series__study=chosen) if isinstance(chosen, Study) \
        else Instance.objects.filter(series=chosen)
    return list(instances.order_by("series__series_number", "instance_number")[:5000])


@role_required(Role.VIEWER)
def pattern_page(request: HttpRequest) -> HttpResponse:
    bound = any(request.GET.get(key) for key in ("study", "series", "instance"))
    form = PatternForm(_with_default(request, "pattern", DEFAULT_PATTERN) if bound else None,
                       initial=request.GET.dict())
    context: dict[str, object] = {"form": form, "crumbs": _crumbs("Format pattern")}
    if bound and form.is_valid():
        try:
            parts = compile_pattern(form.cleaned_data["pattern"])
            overrides = parse_overrides(form.cleaned_data["set"])
        except BadPattern as exc:
            context["error"] = str(exc)
        else:
            results = []
            for instance in _pattern_instances(form.chosen()):
                ds = dcmread(absolute_path(instance.file_path), stop_before_pixels=True,
                             force=True)
                results.append((instance, apply_pattern(parts, ds, overrides)))
            context["results"] = results
    return render(request, "archive/pattern.html", context, status=_status(bound, form, context))
