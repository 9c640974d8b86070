"""File-sets on media: build one from source files (mkmedia), add to one (dcmdir -u),
mark records inactive (dcmdir -d) and compact (dcmdir -z), the way DCMTK dcmmkdir does.

Modules: ``outcomes`` (options, outcomes, reports), ``adding`` (one file onto a File-set),
``tree`` (merging records), ``fileset`` (build and update), ``edit`` (delete and compact),
``lock`` (one change at a time per File-set).
"""

from archive.media.build.edit import compact_fileset, delete_records
from archive.media.build.fileset import build_fileset, update_fileset
from archive.media.build.outcomes import (
    BuildOptions,
    BuildReport,
    EditReport,
    FileOutcome,
    FileOutcomeKind,
    FileSetRefused,
    MediumSource,
)

__all__ = [
    "BuildOptions",
    "BuildReport",
    "EditReport",
    "FileOutcome",
    "FileOutcomeKind",
    "FileSetRefused",
    "MediumSource",
    "build_fileset",
    "compact_fileset",
    "delete_records",
    "update_fileset",
]
