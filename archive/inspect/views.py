"""Inspection pages for an archived instance or an uploaded file: dump, DICOM JSON, and raw
element values (with encapsulated fragments as separate files)."""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect
from django.shortcuts import render as render_template
from django.urls import reverse
from django.views.decorators.http import require_POST
from pydicom.datadict import dictionary_keyword
from pydicom.dataset import Dataset

from archive.breadcrumbs import Crumb, archive_crumbs
from archive.imports.uploads import too_large_message
from archive.inspect.dicomjson import to_dicom_json
from archive.inspect.dump import BINARY_VRS, Dump, dump
from archive.inspect.filtering import filter_rows
from archive.inspect.info import image_info
from archive.inspect.loading import Unreadable, load
from archive.inspect.nativexml import to_native_xml
from archive.inspect.pixels import BadPoint, display_range, pixel_value
from archive.inspect.sources import (
    InspectedFile,
    delete_upload,
    resolve_source,
    save_upload,
    uploaded_files,
)
from archive.inspect.text import dump_text
from archive.inspect.validate import Severity, validate
from archive.models import Instance
from archive.rendering import WINDOW_PRESETS, RenderRefused, Window, file_window, frame_count
from archive.rendering import render as render_frame
from console.roles import Role, request_user, role_required

RAW_CHUNK = 1024 * 1024
TAB_LABELS = {"dump": "Dump", "json": "DICOM JSON", "xml": "Native XML", "raw": "Raw values",
              "info": "Info", "validate": "Validate", "render": "Render"}


def _source(request: HttpRequest, kind: str, ident: str) -> InspectedFile:
    return resolve_source(request_user(request), kind, ident)


def inspect_crumbs(source: InspectedFile, tab: str) -> list[Crumb]:
    """Archive › Patient › Study › Series › Instance › tab, or Inspect a file › name › tab."""
    current = TAB_LABELS.get(tab, "Inspect")
    if source.kind == "instance":
        instance = Instance.objects.select_related("series__study__patient").filter(
            pk=int(source.ident)).first()
        if instance is not None:
            return archive_crumbs(instance, current=current)
    return [Crumb("Inspect a file", reverse("archive:inspect_home")),
            Crumb(source.title or "Uploaded file", source.url("dump")), Crumb(current)]


def render(request: HttpRequest, template: str, context: dict[str, object],
           status: int = 200) -> HttpResponse:
    """An inspect page: with the source's breadcrumbs when it has one."""
    source = context.get("source")
    if isinstance(source, InspectedFile):
        context = {"crumbs": inspect_crumbs(source, str(context.get("tab", ""))), **context}
    return render_template(request, template, context, status=status)


@role_required(Role.VIEWER)
def inspect_home(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        request.FILES  # noqa: B018 - parse now: the upload handler flags its size
        if getattr(request, "upload_too_large", False):
            messages.error(request, too_large_message())
            return redirect("archive:inspect_home")
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose a file to inspect.")
            return redirect("archive:inspect_home")
        token = save_upload(request_user(request), upload)
        return redirect("archive:inspect_dump", "upload", token)
    return render(request, "archive/inspect_home.html",
                  {"files": uploaded_files(request_user(request))})


@require_POST
@role_required(Role.VIEWER)
def inspect_delete(request: HttpRequest, token: str) -> HttpResponse:
    delete_upload(request_user(request), token)
    return redirect("archive:inspect_home")


@role_required(Role.VIEWER)
def inspect_dump(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    source = _source(request, kind, ident)
    started = time.perf_counter()
    result = dump(source.path)
    term = request.GET.get("q", "")
    rows = filter_rows(result.rows, term)
    elapsed = (time.perf_counter() - started) * 1000
    return render(request, "archive/inspect_dump.html", {
        "source": source, "dump": result, "rows": rows, "q": term, "elapsed_ms": elapsed,
        "tab": "dump",
    })


@role_required(Role.VIEWER)
def inspect_dump_text(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    source = _source(request, kind, ident)
    response = HttpResponse(dump_text(dump(source.path)), content_type="text/plain; charset=utf-8")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{source.ident}.txt"'
    return response


def dicom_json(request: HttpRequest, source: InspectedFile) -> dict[str, object]:
    loaded = load(source.path)
    value_url = request.build_absolute_uri(source.url("value"))
    return to_dicom_json(loaded.dataset, little_endian=loaded.little_endian,
                         bulk_uri=lambda path: f"{value_url}?path={path}")


def _document(request: HttpRequest, kind: str, ident: str, tab: str) -> HttpResponse:
    """The DICOM JSON or Native XML of a file: a page, ``?raw=1`` or ``?download=1``."""
    source = _source(request, kind, ident)
    keywords: dict[str, str] = {}
    try:
        if tab == "json":
            document = dicom_json(request, source)
            text = json.dumps([document], indent=2, ensure_ascii=False)
            keywords = tag_keywords(document)
        else:
            text = native_xml(request, source).decode()
    except Unreadable as exc:
        return render(request, "archive/inspect_error.html",
                      {"source": source, "error": exc, "tab": tab}, status=422)
    if request.GET.get("download") or request.GET.get("raw"):
        response = HttpResponse(text, content_type=f"application/dicom+{tab}")
        if request.GET.get("download"):
            response["Content-Disposition"] = f'attachment; filename="{source.ident}.{tab}"'
        return response
    return render(request, f"archive/inspect_{tab}.html",
                  {"source": source, tab: text, "tab": tab, "keywords": keywords,
                   "size": len(text.encode())})


def tag_keywords(document: dict[str, object]) -> dict[str, str]:
    """Keyword of every standard tag in a DICOM JSON object (nested items too), for labels."""
    found: dict[str, str] = {}
    pending: list[object] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if len(key) == 8 and key not in found:
                    with contextlib.suppress(ValueError, KeyError):  # private, unknown
                        found[key] = dictionary_keyword(int(key, 16)) or ""
                pending.append(value)
        elif isinstance(node, list):
            pending.extend(node)
    return {tag: keyword for tag, keyword in found.items() if keyword}


@role_required(Role.VIEWER)
def inspect_json(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    return _document(request, kind, ident, "json")


def native_xml(request: HttpRequest, source: InspectedFile) -> bytes:
    loaded = load(source.path)
    value_url = request.build_absolute_uri(source.url("value"))
    return to_native_xml(loaded.dataset, little_endian=loaded.little_endian,
                         bulk_uri=lambda path: f"{value_url}?path={path}")


@role_required(Role.VIEWER)
def inspect_xml(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    return _document(request, kind, ident, "xml")


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def chosen_window(request: HttpRequest) -> Window | None:
    preset = WINDOW_PRESETS.get(request.GET.get("preset", ""))
    if preset is not None:
        return Window(preset[1], preset[2])
    center, width = _float(request.GET.get("wc")), _float(request.GET.get("ww"))
    if center is not None and width is not None and width >= 1:
        return Window(center, width)
    return None


@role_required(Role.VIEWER)
def inspect_raw(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    """Binary and long values, and encapsulated fragments, each downloadable as stored."""
    source = _source(request, kind, ident)
    rows = [row for row in dump(source.path).rows if row.downloadable and (
        row.vr in BINARY_VRS or row.kind == "fragment" or row.truncated)]
    encapsulated = sorted({row.path for row in rows if row.kind == "fragment"})
    return render(request, "archive/inspect_raw.html", {
        "source": source, "rows": rows, "encapsulated": encapsulated, "tab": "raw"})


@role_required(Role.VIEWER)
def inspect_info(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    source = _source(request, kind, ident)
    info = image_info(source.path)
    return render(request, "archive/inspect_info.html",
                  {"source": source, "info": info, "tab": "info"})


@role_required(Role.VIEWER)
def inspect_validate(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    source = _source(request, kind, ident)
    try:
        findings = validate(load(source.path).dataset)
    except Unreadable as exc:
        return render(request, "archive/inspect_error.html", {"source": source, "error": exc},
                      status=422)
    counts = {severity: sum(1 for f in findings if f.severity == severity)
              for severity in Severity}
    return render(request, "archive/inspect_validate.html", {
        "source": source, "findings": findings, "counts": counts, "tab": "validate"})


@role_required(Role.VIEWER)
def inspect_render_page(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    source = _source(request, kind, ident)
    loaded = load(source.path)
    ds = loaded.dataset
    window = file_window(ds)
    monochrome = str(ds.get("PhotometricInterpretation", "")).startswith("MONOCHROME")
    return render(request, "archive/inspect_render.html", {
        "source": source, "tab": "render",
        "frames": frame_count(ds), "fps": cine_rate(ds),
        "file_window": window, "presets": WINDOW_PRESETS,
        "start_window": window or (full_range_window(source) if monochrome else None),
        "monochrome": monochrome,
    })


DEFAULT_FPS = 10.0


def cine_rate(ds: Dataset) -> float:
    """Frames per second from Cine Rate, else Frame Time (ms), else a default."""
    with contextlib.suppress(TypeError, ValueError):
        rate = float(ds.get("CineRate") or 0)
        if rate > 0:
            return min(rate, 60.0)
    with contextlib.suppress(TypeError, ValueError):
        frame_time = float(ds.get("FrameTime") or 0)
        if frame_time > 0:
            return min(1000.0 / frame_time, 60.0)
    return DEFAULT_FPS


def full_range_window(source: InspectedFile) -> Window | None:
    """A window over the first frame's whole range, for files that give none."""
    try:
        span = display_range(source.path)
    except RenderRefused:
        return None
    if span is None:
        return None
    low, high = span
    return Window((low + high + 1) / 2, max(high - low + 1, 1.0))


@role_required(Role.VIEWER)
def inspect_pixel(request: HttpRequest, kind: str, ident: str) -> JsonResponse:
    """The stored and rescaled value at ``row``/``column`` (from 0) of ``frame`` (from 1)."""
    source = _source(request, kind, ident)
    try:
        value = pixel_value(source.path, request.GET.get("frame", "1"),
                            request.GET.get("row", ""), request.GET.get("column", ""))
    except BadPoint as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except RenderRefused as exc:
        return JsonResponse({"error": str(exc)}, status=422)
    return JsonResponse(value.as_json())


@role_required(Role.VIEWER)
def inspect_render(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    """One frame as PNG (default) or JPEG; ``frame`` counts from 1."""
    source = _source(request, kind, ident)
    frame_text = request.GET.get("frame", "1")
    frame = int(frame_text) - 1 if frame_text.isascii() and frame_text.isdecimal() else -1
    try:
        image = render_frame(source.path, frame, chosen_window(request))
    except RenderRefused as exc:
        return HttpResponse(str(exc), status=422, content_type="text/plain; charset=utf-8")
    output = io.BytesIO()
    as_jpeg = request.GET.get("format") == "jpeg"
    image.save(output, format="JPEG" if as_jpeg else "PNG", quality=92)
    response = HttpResponse(output.getvalue(),
                            content_type="image/jpeg" if as_jpeg else "image/png")
    if request.GET.get("download"):
        suffix = "jpg" if as_jpeg else "png"
        response["Content-Disposition"] = \
            f'attachment; filename="{source.ident}-frame{frame + 1}.{suffix}"'
    return response


def read_value(source: InspectedFile, result: Dump, path: str,
               fragment: int | None) -> bytes:
    row = result.find(path, fragment)
    if row is None or row.value_offset is None or row.length is None:
        raise Http404("No element (or fragment) with a value at that path.")
    with source.path.open("rb") as fp:
        fp.seek(row.value_offset)
        return fp.read(row.length)


@role_required(Role.VIEWER)
def inspect_value(request: HttpRequest, kind: str, ident: str) -> HttpResponseBase:
    """An element's value as stored (gdcmraw), one fragment, or all fragments as a ZIP."""
    source = _source(request, kind, ident)
    path = request.GET.get("path", "")
    result = dump(source.path)
    if request.GET.get("fragments") == "zip":
        fragments = [r for r in result.rows if r.kind == "fragment" and r.path == path]
        if not fragments:
            raise Http404("That element has no encapsulated fragments.")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive, \
                source.path.open("rb") as fp:
            for row in fragments:
                assert row.value_offset is not None and row.length is not None
                fp.seek(row.value_offset)
                archive.writestr(f"{path.replace('/', '_')}.{row.fragment:04d}.raw",
                                 fp.read(row.length))
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{source.ident}-fragments.zip"'
        return response
    fragment_arg = request.GET.get("fragment", "")
    decimal = fragment_arg.isascii() and fragment_arg.isdecimal()
    fragment = int(fragment_arg) if decimal else None
    data = read_value(source, result, path, fragment)
    response = HttpResponse(data, content_type="application/octet-stream")
    suffix = "" if fragment is None else f".{fragment:04d}"
    response["Content-Disposition"] = \
        f'attachment; filename="{path.replace("/", "_")}{suffix}.raw"'
    return response
