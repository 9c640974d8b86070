"""Key Object Selection documents made for a study validate with dicom3tools' dciodvfy and
reference exactly the chosen instances."""

import subprocess
from pathlib import Path
from typing import Any

from pydicom import dcmread

from archive.indexing import store_file
from archive.models import Instance, InstanceSource, Study
from netjobs.operations.kos import key_object_selection, write_part10
from tests.archive_helpers import corpus
from tests.peers import require_tool


def test_a_kos_for_a_study_is_valid(db: Any, tmp_path: Path, settings: Any) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"  # not the shared one: nothing left behind
    for name in ("693_UNCI.dcm", "693_J2KR.dcm"):
        store_file(corpus(name), source=InstanceSource.PATH_IMPORT)
    study = Study.objects.get()
    instances = list(Instance.objects.filter(series__study=study).select_related("series"))
    path = write_part10(key_object_selection(study, instances, "113000", "for review"),
                        tmp_path)
    check = subprocess.run([require_tool("dciodvfy"), str(path)], capture_output=True,
                           text=True, timeout=60)
    errors = [line for line in (check.stdout + check.stderr).splitlines()
              if line.startswith("Error")]
    assert errors == [], errors
    assert "KeyObjectSelectionDocument" in check.stdout + check.stderr
    kos = dcmread(path)
    referenced = {item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
                  for item in kos.ContentSequence if item.ValueType == "IMAGE"}
    assert referenced == {i.sop_instance_uid for i in instances}
    assert kos.StudyInstanceUID == study.study_instance_uid
