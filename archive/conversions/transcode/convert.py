"""``transcode_file``: one source file to one Part 10 file in the target transfer syntax,
frame by frame (decode one, encode one, spool it), so memory holds about one decoded frame
and its codestream whatever the number of frames."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from archive.conversions.outcome import ConversionFailed, FileConversion, OutputFile
from archive.conversions.syntaxes import target_for_uid
from archive.conversions.transcode import attributes as attrs
from archive.conversions.transcode.encode import LOSSY_METHODS, FrameCodec, codec_for
from archive.conversions.transcode.fidelity import Fidelity
from archive.conversions.transcode.native import NativeFrames
from archive.conversions.transcode.options import TranscodeOptions
from archive.conversions.transcode.source import Source, open_source
from archive.conversions.transcode.write import Spool, write_part10
from archive.storage import uid_component
from console.templatetags.console_format import format_size


def _summary(label: str, input_bytes: int, output_bytes: int) -> tuple[str, float]:
    ratio = input_bytes / output_bytes if output_bytes else 0.0
    sizes = f"{format_size(input_bytes)} → {format_size(output_bytes)}"
    return f"{label}, {ratio:.1f}:1 ({sizes})", ratio


def _is_copy(source: Source, options: TranscodeOptions) -> bool:
    same = source.transfer_syntax == options.target.uid
    return same and not options.changes_layout and (not options.new_uid
                                                   or options.target.is_lossy)


def _copy_through(source: Source, out_dir: Path, options: TranscodeOptions) -> FileConversion:
    uid = str(source.dataset.get("SOPInstanceUID", "") or source.path.stem)
    target = out_dir / f"{uid_component(uid)}.dcm"
    shutil.copyfile(source.path, target)
    message, ratio = _summary(options.target.label, source.file_size, source.file_size)
    return FileConversion(
        outputs=[OutputFile(target, target.name, uid)], input_bytes=source.file_size,
        frames=source.layout.frames, message=f"{message}, already in it: copied",
        metrics={"ratio": ratio})


def _natural_planar(source: Source, photometric: str) -> int:
    native_source = not source.transfer_syntax.is_encapsulated
    same = photometric == source.layout.photometric
    return source.layout.planar if native_source and same else 0


def _encode_all(source: Source, spool: Spool, options: TranscodeOptions,
                fidelity: Fidelity | None) -> tuple[FrameCodec | NativeFrames, str]:
    encoder: FrameCodec | NativeFrames | None = None
    photometric = source.layout.photometric
    for frame, photometric in source.frames():
        if encoder is None:
            encoder = _encoder(source, options, photometric)
            if fidelity is not None and isinstance(encoder, FrameCodec):
                fidelity.expect(encoder)
        data = encoder.encode(frame)
        spool.add_frame(data)
        if fidelity is not None:
            fidelity.add(frame, data)
    if encoder is None:
        raise ConversionFailed("the pixel data holds no frame")
    if isinstance(encoder, NativeFrames):
        spool.add_frame(encoder.flush())
    return encoder, photometric


def _encoder(source: Source, options: TranscodeOptions,
             photometric: str) -> FrameCodec | NativeFrames:
    natural = _natural_planar(source, photometric)
    if options.target.is_encapsulated:
        return codec_for(options.target, source.layout, photometric, options, natural)
    planar = options.planar_configuration if options.planar_configuration is not None \
        else natural
    return NativeFrames(source.layout, options.target.uid, planar)


def transcode_file(source_path: Path, out_dir: Path, options: TranscodeOptions) -> FileConversion:
    """Write ``source_path`` in ``options.target`` into ``out_dir`` as ``<SOP UID>.dcm``."""
    source = open_source(source_path)
    if _is_copy(source, options):
        return _copy_through(source, out_dir, options)
    target = options.target
    fidelity = Fidelity(source.layout, target) if target.is_lossy else None
    spool = Spool.open(out_dir, target.is_encapsulated, options.fragment_bytes)
    try:
        encoder, photometric = _encode_all(source, spool, options, fidelity)
        ds = source.dataset
        meta = _meta(source, options)
        attrs.drop_stale(ds)
        if isinstance(encoder, FrameCodec):
            attrs.set_pixel_description(ds, encoder.photometric, encoder.planar,
                                        source.layout.samples)
        else:
            attrs.set_pixel_description(ds, photometric, encoder.planar, source.layout.samples)
        warnings = _offset_tables(ds, spool)
        pixel_ratio = source.layout.pixel_bytes / max(1, spool.pixel_bytes)
        uid = _identify(source, meta, options, pixel_ratio)
        output = out_dir / f"{uid_component(uid)}.dcm"
        write_part10(output, meta, ds, spool,
                     encoder.vr if isinstance(encoder, NativeFrames) else "OB")
    finally:
        spool.close()
    message, ratio = _summary(target.label, source.file_size, output.stat().st_size)
    metrics = {"ratio": round(ratio, 3)}
    if fidelity is not None:
        metrics.update(fidelity.metrics())
        message += f", {fidelity.describe()}"
    return FileConversion(outputs=[OutputFile(output, output.name, uid)],
                          input_bytes=source.file_size, frames=source.layout.frames,
                          message=message, warnings=warnings, metrics=metrics)


def _meta(source: Source, options: TranscodeOptions) -> FileMetaDataset:
    meta = FileMetaDataset(copy.deepcopy(source.dataset.file_meta))
    for tag in list(meta.keys()):
        if tag.element == 0:
            del meta[tag]
    meta.TransferSyntaxUID = options.target.uid
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    if "ImplementationVersionName" in meta:
        del meta.ImplementationVersionName
    meta.MediaStorageSOPClassUID = source.dataset.get("SOPClassUID",
                                                      meta.get("MediaStorageSOPClassUID"))
    meta.MediaStorageSOPInstanceUID = source.dataset.get(
        "SOPInstanceUID", meta.get("MediaStorageSOPInstanceUID"))
    return meta


def _identify(source: Source, meta: FileMetaDataset, options: TranscodeOptions,
              pixel_ratio: float) -> str:
    ds, target = source.dataset, options.target
    if target.is_lossy:
        earlier = target_for_uid(source.transfer_syntax)
        attrs.mark_lossy(ds, pixel_ratio, LOSSY_METHODS[target],
                         LOSSY_METHODS.get(earlier) if earlier is not None else None)
    else:
        attrs.keep_lossy_history(ds, source.was_lossy)
    if target.is_lossy or options.new_uid:
        step = attrs.describe_step(source.transfer_syntax, target,
                                   pixel_ratio if target.is_lossy else None)
        return attrs.new_instance(ds, meta, options.uid_root, target.is_lossy, step)
    return str(ds.get("SOPInstanceUID", "") or source.path.stem)


def _offset_tables(ds: Dataset, spool: Spool) -> list[str]:
    """Extended Offset Table when offsets pass 4 GiB (one fragment per frame only)."""
    if not spool.needs_extended_offsets:
        return []
    if spool.fragment_bytes is not None:
        return ["the frames pass 4 GiB and are split into fragments: the offset tables "
                "stay empty (no Extended Offset Table with several fragments per frame)"]
    ds.ExtendedOffsetTable = np.array(spool.offsets, "<u8").tobytes()
    ds.ExtendedOffsetTableLengths = np.array(spool.lengths, "<u8").tobytes()
    return ["the frames pass 4 GiB: Extended Offset Table written, Basic Offset Table empty"]
