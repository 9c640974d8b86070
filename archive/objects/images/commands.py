"""The peer tools' command lines for the same image creation, for the job page: DCMTK
``img2dcm`` (JPEG and BMP), dcm4che ``jpg2dcm`` (one JPEG) and GDCM ``gdcmimg`` (one JPEG or
raw file), each only where the tool can do it; a target syntax other than the JPEG's own adds
the tool set's transcode step. Option spellings as in the tools' ``--help``."""

from __future__ import annotations

import shlex

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode import TranscodeOptions, command_lines
from archive.objects.images.create import ImageCreateOptions
from archive.objects.images.pixels import ImageFormat
from archive.objects.images.sop_classes import ImageSopClass

IDENTITY_KEYWORDS = ("PatientName", "PatientID", "StudyInstanceUID")


def _identity_values(options: ImageCreateOptions) -> list[tuple[str, str]]:
    attributes = options.identity.attributes
    values = [(keyword, str(attributes.get(keyword, ""))) for keyword in IDENTITY_KEYWORDS]
    values.append(("SeriesInstanceUID", options.identity.series_instance_uid))
    return [(keyword, value) for keyword, value in values if value]


def _img2dcm(options: ImageCreateOptions, sources: list[str], dest: str,
             formats: list[ImageFormat]) -> str | None:
    kinds = set(formats)
    if options.raw is not None or len(kinds) != 1 or not kinds <= {ImageFormat.JPEG,
                                                                   ImageFormat.BMP}:
        return None
    if options.sop_class == ImageSopClass.VL_ENDOSCOPIC:
        return None  # img2dcm has no VL Endoscopic output plugin
    parts = ["img2dcm"]
    if ImageFormat.BMP in kinds:
        parts += ["-i", "BMP"]
    elif options.keep_app_segments:
        parts += ["--keep-appn"]
    if options.sop_class == ImageSopClass.VL_PHOTOGRAPHIC:
        if len(sources) > 1:
            return None
        parts += ["--vl-photo"]
    elif len(sources) > 1:
        parts += ["--new-sc"]  # the Multi-frame SC classes
    for keyword, value in _identity_values(options):
        parts += ["-k", f"{keyword}={value}"]
    return shlex.join([*parts, *sources, dest])


def _jpg2dcm(options: ImageCreateOptions, sources: list[str], dest: str,
             formats: list[ImageFormat]) -> str | None:
    if options.raw is not None or len(sources) != 1 or formats != [ImageFormat.JPEG]:
        return None
    parts = ["jpg2dcm"]
    if not options.keep_app_segments:
        parts += ["--no-app"]
    if options.sop_class == ImageSopClass.VL_PHOTOGRAPHIC:
        parts += ["--xc"]
    elif options.sop_class == ImageSopClass.VL_ENDOSCOPIC:
        parts += ["-m", f"SOPClassUID={options.sop_class.uid}", "-m", "Modality=ES"]
    for keyword, value in _identity_values(options):
        parts += ["-m", f"{keyword}={value}"]
    return shlex.join([*parts, *sources, dest])


def _gdcmimg(options: ImageCreateOptions, sources: list[str], dest: str,
             formats: list[ImageFormat]) -> str | None:
    if len(sources) != 1:
        return None
    parts = ["gdcmimg"]
    raw = options.raw
    if raw is not None:
        parts += ["--size", f"{raw.columns},{raw.rows}", "--depth", str(raw.bits_allocated),
                  "--spp", str(raw.samples_per_pixel), "--sign", str(int(raw.signed)),
                  "--endian", "MSB" if raw.big_endian else "LSB"]
        if raw.offset:
            parts += ["--offset", str(raw.offset)]
    elif formats != [ImageFormat.JPEG]:
        return None  # gdcmimg reads JPEG, JPEG-LS, JPEG 2000, PNM and raw, not PNG/BMP/TIFF
    parts += ["-C", str(options.sop_class.uid), "-S", options.identity.series_instance_uid]
    study = str(options.identity.attributes.get("StudyInstanceUID", ""))
    if study:
        parts += ["-T", study]
    return shlex.join([*parts, "-i", sources[0], "-o", dest])


INTERMEDIATE = "created.dcm"


def _needs_transcode(options: ImageCreateOptions, formats: list[ImageFormat]) -> bool:
    """The tools write JPEG as is and the rest uncompressed: any other target is a second
    step (a JPEG already in the target is copied through by the transcoders)."""
    target = options.target
    if target is None:
        return False
    return target != TargetSyntax.EXPLICIT_LE or ImageFormat.JPEG in formats


def image_command_lines(options: ImageCreateOptions, sources: list[str], dest: str,
                        formats: list[ImageFormat]) -> list[tuple[str, str]]:
    """(tool set, command) for each tool that can make the equivalent object from
    ``sources`` (whose formats are ``formats``) into ``dest``; with a target syntax the
    creation writes ``created.dcm`` and the same tool set's transcode writes ``dest``."""
    lines: list[tuple[str, str]] = []
    second: dict[str, str] = {}
    if _needs_transcode(options, formats) and options.target is not None:
        second = dict(command_lines(TranscodeOptions(target=options.target), INTERMEDIATE,
                                    dest))
    for tool, build in (("DCMTK", _img2dcm), ("dcm4che", _jpg2dcm), ("GDCM", _gdcmimg)):
        if not _needs_transcode(options, formats):
            command = build(options, sources, dest, formats)
        elif tool in second:
            first = build(options, sources, INTERMEDIATE, formats)
            command = f"{first} && {second[tool]}" if first is not None else None
        else:
            command = None
        if command is not None:
            lines.append((tool, command))
    return lines
