"""The command lines of the peer tools that do the same transcode: dcm4che's ``dcm2dcm``,
GDCM's ``gdcmconv`` and DCMTK (``dcmconv``, ``dcmcrle``, ``dcmcjpeg``, ``dcmcjpls``), each only
where that tool can write the target. Option spellings as in the tools' ``--help``."""

from __future__ import annotations

from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode.options import DEFAULT_J2K_RATIO, TranscodeOptions

T = TargetSyntax
# dcm4che 5 has no RLE or HTJ2K encoder
DCM2DCM_CANNOT = (T.RLE, T.HTJ2K_LOSSLESS, T.HTJ2K_LOSSY)
DCMTK_ENCODERS = ("dcmcjpeg", "dcmcjpls", "dcmcrle")


def _dcm2dcm(options: TranscodeOptions, source: str, dest: str) -> str | None:
    target = options.target
    if target in DCM2DCM_CANNOT:
        return None
    parts = ["dcm2dcm", "-t", str(target.uid)]
    if target in (T.JPEG_BASELINE, T.JPEG_EXTENDED):
        parts += ["-q", f"{options.jpeg_quality / 100:.2f}"]
    if target == T.JPEG_LS_NEAR_LOSSLESS:
        parts += ["-C", f"maxPixelValueError={options.near}"]
    if target == T.J2K_LOSSY and options.j2k_psnr is None:
        # -Q is bits per pixel: 16-bit samples at 10:1 are 1.6 bits per pixel
        ratio = options.j2k_ratio or DEFAULT_J2K_RATIO
        parts += ["-Q", f"{16 / ratio:.3g}"]
    return " ".join([*parts, source, dest])


def _gdcmconv(options: TranscodeOptions, source: str, dest: str) -> str | None:
    target = options.target
    spec = target.spec.gdcmconv
    if spec is None:
        return None
    parts = ["gdcmconv", *spec.split()]
    if target in (T.JPEG_BASELINE, T.JPEG_EXTENDED):
        parts += ["-q", str(options.jpeg_quality)]
    if target == T.JPEG_LS_NEAR_LOSSLESS:
        parts += ["-e", str(options.near)]
    if target == T.J2K_LOSSY:
        if options.j2k_psnr is not None:
            parts += ["-q", f"{options.j2k_psnr:g}"]
        else:
            parts += ["--rate", f"{options.j2k_ratio or DEFAULT_J2K_RATIO:g}"]
    if options.fragment_bytes is not None and target.is_encapsulated:
        parts += ["--split", str(options.fragment_bytes)]
    if options.planar_configuration is not None:
        parts += ["--planar-configuration", str(options.planar_configuration)]
    if options.uid_root:
        parts += ["--root-uid", options.uid_root]
    return " ".join([*parts, "-i", source, "-o", dest])


def _dcmtk(options: TranscodeOptions, source: str, dest: str) -> str | None:
    target = options.target
    spec = target.spec.dcmtk
    if spec is None:
        return None
    parts = spec.split()
    tool = parts[0]
    if target in (T.JPEG_BASELINE, T.JPEG_EXTENDED):
        parts += ["+q", str(options.jpeg_quality)]
    if target == T.JPEG_LS_NEAR_LOSSLESS:
        parts += ["+md", str(options.near)]
    if tool in DCMTK_ENCODERS:
        if options.fragment_bytes is not None:
            # DCMTK counts fragment sizes in kilobytes
            parts += ["+fs", str(max(1, options.fragment_bytes // 1024))]
        if options.new_uid and not target.is_lossy:
            parts += ["+ua"]
    return " ".join([*parts, source, dest])


def command_lines(options: TranscodeOptions, source: str, dest: str) -> list[tuple[str, str]]:
    """(tool set, command) for each tool that can write ``options.target``."""
    lines: list[tuple[str, str]] = []
    for tool, build in (("dcm4che", _dcm2dcm), ("GDCM", _gdcmconv), ("DCMTK", _dcmtk)):
        command = build(options, source, dest)
        if command is not None:
            lines.append((tool, command))
    return lines
