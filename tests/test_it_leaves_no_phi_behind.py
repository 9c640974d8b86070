"""De-identification leaves none of the input's identifying values anywhere in the output —
elements, sequences, private elements, file meta, file names — for every corpus file and for
held-back files with PHI planted in odd places (tests/deid_phi_files.py).

The oracle is the PHI scan (archive.deid.phi): the input's identifying values, searched in
the raw bytes of every file the engine wrote and in their names; for the held-back files
also the list of values planted, which does not depend on the scan's own collecting. A file
that is no readable composite instance (for DCMTK's dcmdump) must be refused, never
half-written."""

from __future__ import annotations

import csv
import subprocess
import warnings
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from archive.deid.config import DeidConfig, DeidRefused
from archive.deid.engine import deidentify_file
from archive.deid.phi import PhiFinding, PhiValue, identifying_values, scan_file, uid_values
from archive.deid.profile import ProfileOption
from tests.deid_phi_files import (
    DATE_LABELS,
    FILE_NAMES,
    PATIENT_ID,
    PATIENT_NAME,
    PLANTED,
    phi_laden_files,
    phi_of,
)

CORPUS = Path("/work/shared/dicom-corpus")
KEY = bytes(range(32))


def corpus_names() -> list[str]:
    with (CORPUS / "INDEX.tsv").open() as index:
        listed = {row["file"] for row in csv.DictReader(index, delimiter="\t")}
    return sorted(listed | {p.name for p in CORPUS.glob("*.dcm")})


CONFIGS = {
    "basic": DeidConfig(project_key=KEY),
    "full-dates": DeidConfig(options=frozenset({ProfileOption.RETAIN_FULL_DATES}),
                             project_key=KEY),
    "uids": DeidConfig(options=frozenset({ProfileOption.RETAIN_UIDS}), project_key=KEY),
}
"""The default configuration, and the two options that let values of the input stay: the
dates (Retain Full Dates), and the UIDs with any date or number they are made of."""


@pytest.fixture(scope="module")
def laden(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    files = phi_laden_files(tmp_path_factory.mktemp("phi-laden"))
    return {f.name: f for f in files}


def deidentifiable(path: Path) -> bool:
    """DCMTK's dcmdump reads the whole file without an error, and it has a SOP Class UID and
    a SOP Instance UID (a composite instance, with or without the Part 10 header)."""
    dumped = subprocess.run(["dcmdump", "-q", "+P", "0008,0016", "+P", "0008,0018", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    return (dumped.returncode == 0 and not dumped.stderr
            and "SOPClassUID" in dumped.stdout and "SOPInstanceUID" in dumped.stdout)


def read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(path, force=True)


def input_values(path: Path, config_id: str) -> list[PhiValue]:
    return identifying_values(read(path), retained_dates=config_id == "full-dates")


def leaks(out_dir: Path, values: list[PhiValue], source: Path, config_id: str
          ) -> list[PhiFinding]:
    """Findings in every file the engine left in ``out_dir`` (and in their names)."""
    uids = uid_values(read(source)) if config_id == "uids" else frozenset()
    return [f for written in sorted(out_dir.iterdir())
            for f in scan_file(written, values, retained_uids=uids)]


def shown(findings: list[PhiFinding]) -> str:
    return "\n".join(f"{f.value.source} = {f.value.text!r} at {f.where}" for f in findings)


def planted_values(source: Path, config_id: str) -> list[PhiValue]:
    """The planted values no output may hold (Retain Full Dates may keep the dates)."""
    values = phi_of([source])
    if config_id == "full-dates":
        dates = {f"planted {label}" for label in DATE_LABELS}
        values = [v for v in values if v.source not in dates]
    return values


@pytest.mark.parametrize("config_id", CONFIGS)
@pytest.mark.parametrize("name", corpus_names())
def test_no_identifying_value_of_a_corpus_file_is_left(
    name: str, config_id: str, tmp_path: Path
) -> None:
    source = CORPUS / name
    if not deidentifiable(source):
        with pytest.raises(DeidRefused):
            deidentify_file(source, tmp_path, CONFIGS[config_id])
        assert list(tmp_path.iterdir()) == []
        return
    try:
        deidentify_file(source, tmp_path, CONFIGS[config_id])
    except DeidRefused as refused:
        pytest.fail(f"{name} is a readable composite instance but refused: {refused}")
    findings = leaks(tmp_path, input_values(source, config_id), source, config_id)
    assert findings == [], shown(findings)


@pytest.mark.parametrize("config_id", CONFIGS)
@pytest.mark.parametrize("name", FILE_NAMES)
def test_no_planted_value_is_left(
    laden: dict[str, Path], name: str, config_id: str, tmp_path: Path
) -> None:
    source = laden[name]
    deidentify_file(source, tmp_path, CONFIGS[config_id])
    values = input_values(source, config_id) + planted_values(source, config_id)
    findings = leaks(tmp_path, values, source, config_id)
    assert findings == [], shown(findings)


def test_the_planted_values_are_really_in_the_inputs(laden: dict[str, Path]) -> None:
    """The generator's own check: DCMTK sees every planted value in every held-back file,
    and the scan collects each of them from the input (so the first oracle is complete)."""
    for source in laden.values():
        dumped = subprocess.run(["dcmdump", str(source)], capture_output=True, text=True,
                                timeout=60, check=True).stdout
        collected = {v.text for v in input_values(source, "basic")}
        for label, text in PLANTED.items():
            assert text in dumped, (source.name, label)
            assert text in collected, (source.name, label)


def test_one_patient_gets_one_pseudonym(laden: dict[str, Path], tmp_path: Path) -> None:
    outputs = []
    for source in laden.values():
        out_dir = tmp_path / source.stem
        out_dir.mkdir()
        written, _ = deidentify_file(source, out_dir, CONFIGS["basic"])
        outputs.append(dcmread(written))
    assert len({(str(ds.PatientID), str(ds.PatientName)) for ds in outputs}) == 1
    assert str(outputs[0].PatientID) not in ("", PATIENT_ID)
    assert str(outputs[0].PatientName) not in ("", PATIENT_NAME)


def test_a_burned_in_annotation_holds_the_file_back(laden: dict[str, Path],
                                                    tmp_path: Path) -> None:
    _, result = deidentify_file(laden["us-burned-in.dcm"], tmp_path, CONFIGS["basic"])
    assert "Burned In Annotation" in result.held_back
