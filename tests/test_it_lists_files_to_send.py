"""The files a store job sends from a server folder: each described by its own meta header
(checked against pydicom's reading of the file), links out of the allowed folders refused,
and "retry failed only" reading just the files it names."""

import os
import shutil
from pathlib import Path

from pydicom import dcmread

from netjobs.operations.store.sources import folder_items
from tests.archive_helpers import corpus


def test_only_the_named_files_are_listed(tmp_path: Path) -> None:
    root = tmp_path / "allowed"
    (root / "sub").mkdir(parents=True)
    shutil.copy(corpus("emri_small.dcm"), root / "sub" / "a.dcm")
    (root / "b.dcm").write_bytes(b"not DICOM")
    everything = {i.name: i for i in folder_items(root, allowed=[root])}
    assert set(everything) == {"b.dcm", "sub/a.dcm"} and everything["b.dcm"].problem
    (only,) = folder_items(root, allowed=[root], only={"sub/a.dcm"})
    expected = dcmread(corpus("emri_small.dcm"), stop_before_pixels=True)
    assert (only.name, only.sop_instance_uid, only.transfer_syntax_uid) == (
        "sub/a.dcm", expected.SOPInstanceUID, expected.file_meta.TransferSyntaxUID)
    assert not only.problem


def test_a_single_file_linking_outside_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "allowed", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    shutil.copy(corpus("emri_small.dcm"), outside / "secret.dcm")
    os.symlink(outside / "secret.dcm", root / "link.dcm")
    (item,) = folder_items(root / "link.dcm", allowed=[root])
    assert item.path is None and "outside the allowed folders" in item.problem
    (walked,) = folder_items(root, allowed=[root])
    assert walked.path is None and "outside the allowed folders" in walked.problem
