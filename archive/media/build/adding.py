"""One source file onto the File-set: header, profile check, records, copy, merge.

Each file fails or is skipped alone, with the reason: an unreadable or non-DICOM file, a
transfer syntax the profile refuses (unless transcoding), missing Type 1 record keys (unless
inventing), an instance already on the File-set. A file that is added is copied byte for
byte (or transcoded to Explicit VR Little Endian) to its file ID under the folder, and only
then are its records merged into the tree.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import UID

from archive.conversions.outcome import ConversionFailed, ConversionSkipped
from archive.conversions.syntaxes import TargetSyntax
from archive.conversions.transcode.convert import transcode_file
from archive.conversions.transcode.options import TranscodeOptions
from archive.media.build.outcomes import BuildOptions, FileOutcome, FileOutcomeKind, MediumSource
from archive.media.build.tree import RecordTree
from archive.media.dicomdir.elements import keyword_tag, text
from archive.media.dicomdir.fileids import file_id_path
from archive.media.dicomdir.invent import NEVER_INVENTED, Inventor
from archive.media.dicomdir.model import Record
from archive.media.dicomdir.records import (
    InstanceRecords,
    MissingRecordKeys,
    instance_records,
    read_header,
)
from archive.media.layout import Layout
from archive.media.profiles import EXPLICIT_LE

PHASES = ("headers", "copy", "dicomdir")


class _Refused(Exception):
    """This file does not go onto the File-set (kind and message in the args)."""

    def __init__(self, kind: FileOutcomeKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _text(ds: Dataset, keyword: str) -> str:
    return text(ds, keyword_tag(keyword))


def _missing_message(error: MissingRecordKeys, inventing: bool) -> str:
    keys = ", ".join(error.missing)
    never = sorted(set(error.missing) & NEVER_INVENTED)
    if never:
        return (f"missing Type 1 keys for the directory records: {keys} "
                f"({', '.join(never)} cannot be invented)")
    if inventing:
        return f"missing Type 1 keys for the directory records: {keys}"
    return (f"missing Type 1 keys for the directory records: {keys}; inventing missing keys "
            "(dcmmkdir +I) would add this file")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _header(path: Path) -> Dataset:
    try:
        return read_header(path)
    except OSError as exc:
        raise _Refused(FileOutcomeKind.FAILED,
                       f"cannot read the file: {exc.strerror or exc}") from None
    except Exception as exc:  # a per-file boundary: pydicom raises many kinds
        raise _Refused(FileOutcomeKind.FAILED, f"not a readable DICOM file: {exc}") from None


@dataclass
class _Prepared:
    header: Dataset
    keys: InstanceRecords
    syntax: str
    transcode_note: str  # why the file is transcoded ("" when it is copied)


@dataclass
class FileAdder:
    """Adds sources to one File-set folder; one per build or update."""

    folder: Path
    options: BuildOptions
    tree: RecordTree
    layout: Layout
    inventor: Inventor | None
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    _added_by: dict[str, str] = field(default_factory=dict, init=False)

    def add(self, source: MediumSource) -> FileOutcome:
        """Put one source onto the File-set; its outcome."""
        started = time.monotonic()
        header: Dataset | None = None
        try:
            header = _header(source.path)
            prepared = self._prepare(header)
        except _Refused as refused:
            return self._refused(source, refused, header)
        finally:
            self.seconds["headers"] += time.monotonic() - started
        started = time.monotonic()
        try:
            file_id, leaf = self._place(source, prepared)
        except _Refused as refused:
            return self._refused(source, refused, header)
        finally:
            self.seconds["copy"] += time.monotonic() - started
        self.tree.add(prepared.keys, leaf)
        self._added_by[leaf.sop_instance_uid] = source.name
        fixes = prepared.keys.fixes
        message = prepared.transcode_note or "copied"
        if fixes:
            message += "; invented: " + "; ".join(fixes)
        output = _size(file_id_path(self.folder, file_id))
        return FileOutcome(source.name, FileOutcomeKind.FIXED if fixes else
                           FileOutcomeKind.ADDED, message, file_id, leaf.sop_instance_uid,
                           _size(source.path), output)

    @staticmethod
    def _refused(source: MediumSource, refused: _Refused,
                 header: Dataset | None) -> FileOutcome:
        uid = _text(header, "SOPInstanceUID") if header is not None else ""
        return FileOutcome(source.name, refused.kind, refused.message, sop_instance_uid=uid,
                           input_bytes=_size(source.path))

    def _prepare(self, header: Dataset) -> _Prepared:
        meta = getattr(header, "file_meta", None)
        syntax = _text(meta, "TransferSyntaxUID") if meta is not None else ""
        uid = _text(header, "SOPInstanceUID")
        if not uid or not syntax:
            raise _Refused(FileOutcomeKind.FAILED, "not a DICOM Part 10 file with a SOP "
                                                   "Instance UID and a transfer syntax")
        refusal = self.options.profile.refusal(syntax)
        if refusal is not None and not self.options.transcode:
            raise _Refused(FileOutcomeKind.FAILED, refusal)
        if self.tree.has(uid):
            earlier = self._added_by.get(uid)
            raise _Refused(FileOutcomeKind.SKIPPED,
                           f"SOP Instance UID {uid} is already added from {earlier}"
                           if earlier else f"already on the File-set (SOP Instance UID {uid})")
        try:
            keys = instance_records(header, self.inventor)
        except MissingRecordKeys as exc:
            raise _Refused(FileOutcomeKind.FAILED,
                           _missing_message(exc, self.inventor is not None)) from None
        except ValueError as exc:  # UnknownSopClass, bad values
            raise _Refused(FileOutcomeKind.FAILED, str(exc)) from None
        note = ""
        if refusal is not None:
            note = (f"transcoded to Explicit VR Little Endian, as profile "
                    f"{self.options.profile.value} does not allow {UID(syntax).name}")
        return _Prepared(header, keys, syntax, note)

    def _place(self, source: MediumSource, prepared: _Prepared) -> tuple[tuple[str, ...],
                                                                           Record]:
        keys = prepared.keys
        file_id = self.layout.file_id(*keys.identity())
        target = file_id_path(self.folder, file_id)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if prepared.transcode_note:
                self._transcode(source.path, target)
                syntax = EXPLICIT_LE
            else:
                shutil.copyfile(source.path, target)
                syntax = prepared.syntax
        except OSError as exc:
            target.unlink(missing_ok=True)
            raise _Refused(FileOutcomeKind.FAILED,
                           f"cannot write {'/'.join(file_id)}: {exc.strerror or exc}") from None
        meta = prepared.header.file_meta
        leaf = Record(record_type=keys.leaf_type, keys=keys.leaf, file_id=file_id,
                      sop_class_uid=_text(meta, "MediaStorageSOPClassUID")
                      or _text(prepared.header, "SOPClassUID"),
                      sop_instance_uid=_text(prepared.header, "SOPInstanceUID"),
                      transfer_syntax_uid=syntax)
        return file_id, leaf

    def _transcode(self, source: Path, target: Path) -> None:
        with tempfile.TemporaryDirectory(prefix=".transcode-", dir=self.folder) as work:
            try:
                done = transcode_file(source, Path(work),
                                      TranscodeOptions(target=TargetSyntax.EXPLICIT_LE))
            except (ConversionFailed, ConversionSkipped) as exc:
                raise _Refused(FileOutcomeKind.FAILED,
                               f"cannot be transcoded to Explicit VR Little Endian: {exc}"
                               ) from None
            except Exception as exc:  # a per-file boundary: decoders raise many kinds
                raise _Refused(FileOutcomeKind.FAILED,
                               f"cannot be transcoded to Explicit VR Little Endian: {exc}"
                               ) from None
            shutil.move(done.outputs[0].path, target)
