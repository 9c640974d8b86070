"""What an instance encapsulates, given back from its page: the document with its MIME
type and a file name from its title, the video to play or save, a JPEG frame as it is."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404

from archive.conversions.outcome import ConversionFailed
from archive.models import AttributeEdit, Instance, Study
from archive.objects.extract import Extractable, ExtractKind, extract, what_to_extract
from archive.storage import absolute_path
from console.roles import Role, role_required

SAFE_MIME = re.compile(r"[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+")
INLINE_TYPES = ("video/mp4", "application/pdf", "image/jpeg", "video/mpeg")


def extractable(instance: Instance) -> Extractable | None:
    """What the instance page offers to extract (None: nothing, or the file is unreadable)."""
    path = absolute_path(instance.file_path)
    if not path.is_file():
        return None
    try:
        return what_to_extract(path)
    except (ConversionFailed, OSError, ValueError):
        return None


def instance_page_context(instance: Instance) -> dict[str, Any]:
    """The instance page's extract button, video player and edit history."""
    offer = extractable(instance)
    return {
        "extractable": offer,
        "extract_label": extract_label(offer) if offer is not None else "",
        "plays_video": offer is not None and offer.kind == ExtractKind.VIDEO
        and offer.mime_type == "video/mp4",
        "edits": AttributeEdit.objects.filter(instance=instance).select_related("job"),
    }


def extract_label(offer: Extractable) -> str:
    """The download button's words: a document by its file name (from its title), a video
    or a JPEG frame by what it is (their names are UIDs, shown on hover)."""
    if offer.kind == ExtractKind.DOCUMENT:
        return f"Download {offer.filename}"
    if offer.kind == ExtractKind.VIDEO:
        extension = offer.filename.rpartition(".")[2].upper()
        return f"Download the video ({extension})"
    return "Download the JPEG as stored"


def study_edits(study: Study) -> list[AttributeEdit]:
    return list(AttributeEdit.objects.filter(study=study).select_related("job", "instance")[:200])


@role_required(Role.VIEWER)
def instance_extracted(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The encapsulated document, video or JPEG frame (``?frame=n``, default 1), streamed;
    ``?inline=1`` shows it in the browser (the page's video player, a PDF in a tab)."""
    instance = get_object_or_404(Instance, pk=pk)
    path = absolute_path(instance.file_path)
    if not path.is_file():
        raise Http404("The file of this instance is missing from storage.")
    offer = extractable(instance)
    if offer is None:
        return HttpResponse("Nothing to extract: this instance encapsulates no document, video "
                            "or JPEG frame.", status=404, content_type="text/plain; charset=utf-8")
    frame = _frame(request.GET.get("frame"))
    scratch = Path(settings.CONVERSION_DIR) / "extracting"
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=scratch))
    try:
        try:
            result = extract(path, folder, frame=frame)
        except ConversionFailed as exc:
            return HttpResponse(f"Cannot extract: {exc}", status=422,
                                content_type="text/plain; charset=utf-8")
        output = result.outputs[0]
        handle = output.path.open("rb")  # still readable once its folder is gone
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # the file's own MIME type: never a header injection
    mime = offer.mime_type if SAFE_MIME.fullmatch(offer.mime_type) else "application/octet-stream"
    inline = request.GET.get("inline") == "1" and mime in INLINE_TYPES
    return FileResponse(handle, as_attachment=not inline, filename=output.name,
                        content_type=mime)


def _frame(text: str | None) -> int | None:
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        raise Http404("frame numbers are whole numbers from 1") from None
    if number < 1:
        raise Http404("frame numbers start at 1")
    return number
