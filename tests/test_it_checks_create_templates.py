"""A PS3.19 XML or PS3.18 JSON template for ``create`` passes the same PS3.5 value checks an
edit's values pass: a bad value is a 422 (API) or a form error naming the attribute, before
any job runs; a good template's attributes reach objects dciodvfy accepts, but it never
sets what the IOD fixes (the modality of a VL class, Image Type values 1 and 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from archive.models import Instance
from archive.objects.common import Identity
from archive.objects.images import ImageCreateOptions, ImageSopClass, create_image
from archive.objects.metadata import MetadataRefused, merged, template_attributes
from archive.storage import absolute_path
from netjobs.models import Job, JobStatus
from tests.archive_helpers import import_folder
from tests.conftest import logged_in
from tests.conversion_helpers import run_conversion
from tests.object_helpers import dciodvfy_errors
from tests.object_job_helpers import make_jpeg, make_png

VL_PHOTOGRAPHIC = "1.2.840.10008.5.1.4.1.1.77.1.4"
NESTED_BAD_UID = """<?xml version="1.0" encoding="UTF-8"?>
<NativeDicomModel>
  <DicomAttribute tag="00081115" vr="SQ" keyword="ReferencedSeriesSequence">
    <Item number="1">
      <DicomAttribute tag="0020000E" vr="UI" keyword="SeriesInstanceUID">
        <Value number="1">1.2.x</Value>
      </DicomAttribute>
    </Item>
  </DicomAttribute>
</NativeDicomModel>
"""
GOOD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<NativeDicomModel>
  <DicomAttribute tag="00080008" vr="CS" keyword="ImageType">
    <Value number="1">DERIVED</Value><Value number="2">PRIMARY</Value>
  </DicomAttribute>
  <DicomAttribute tag="00080060" vr="CS" keyword="Modality"><Value number="1">MR</Value>
  </DicomAttribute>
  <DicomAttribute tag="00080080" vr="LO" keyword="InstitutionName">
    <Value number="1">Hospital of Templates</Value>
  </DicomAttribute>
  <DicomAttribute tag="00100010" vr="PN" keyword="PatientName">
    <PersonName number="1"><Alphabetic><FamilyName>Xml</FamilyName><GivenName>Tina</GivenName>
    </Alphabetic></PersonName>
  </DicomAttribute>
  <DicomAttribute tag="00100030" vr="DA" keyword="PatientBirthDate">
    <Value number="1">19800229</Value>
  </DicomAttribute>
  <DicomAttribute tag="00081030" vr="LO" keyword="StudyDescription">
    <Value number="1">From the XML template</Value>
  </DicomAttribute>
</NativeDicomModel>
"""


def _json(elements: dict[str, tuple[str, list[object]]]) -> str:
    return json.dumps({tag: {"vr": vr, "Value": value} for tag, (vr, value) in elements.items()})


BAD_TEMPLATES = [
    (_json({"00080020": ("DA", ["garbage"])}), "StudyDate"),
    (_json({"00100030": ("DA", ["20230230"])}), "PatientBirthDate"),  # no 30 February
    (_json({"00200052": ("UI", ["not a uid"])}), "FrameOfReferenceUID"),
    (_json({"00080018": ("UI", ["1.2.3.abc"])}), "SOPInstanceUID"),
    (_json({"00080008": ("CS", ["X"])}), "ImageType"),  # VM 2-n
    (_json({"00080060": ("CS", ["mr"])}), "Modality"),  # lower case is not CS
    (_json({"00081030": ("LO", ["x" * 65])}), "StudyDescription"),
    (NESTED_BAD_UID, "ReferencedSeriesSequence[0].SeriesInstanceUID"),
]
BAD_IDS = ["DA", "DA-calendar", "UI", "SOP-UI", "ImageType-VM", "CS", "LO-length", "nested"]


@pytest.mark.parametrize(("template", "attribute"), BAD_TEMPLATES, ids=BAD_IDS)
def test_a_bad_template_value_is_refused_naming_the_attribute(template: str,
                                                               attribute: str) -> None:
    with pytest.raises(MetadataRefused, match=re.escape(f"template's {attribute}")):
        template_attributes(template)


@pytest.mark.django_db
@pytest.mark.parametrize(("template", "attribute"), BAD_TEMPLATES[:3] + BAD_TEMPLATES[-1:],
                         ids=BAD_IDS[:3] + BAD_IDS[-1:])
def test_the_api_answers_422_for_a_bad_template(operator: User, template: str,
                                                attribute: str) -> None:
    with import_folder() as folder:
        make_png(folder / "scan.png")
        response = logged_in(operator).post(
            "/api/jobs", {"kind": "create", "params": {"path": str(folder),
                                                        "template": template}},
            content_type="application/json")
    assert response.status_code == 422
    assert attribute in json.dumps(response.json()), response.json()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_the_form_shows_the_bad_template_value_on_the_template_field(operator: User) -> None:
    with import_folder() as folder:
        make_png(folder / "scan.png")
        upload = SimpleUploadedFile("template.json", BAD_TEMPLATES[0][0].encode(),
                                    content_type="application/json")
        response = logged_in(operator).post("/jobs/new/create/", {
            "path": str(folder), "belongs": "new", "output": "archive", "image_class": "sc",
            "video_class": "endoscopic", "template_file": upload})
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "template_file" in errors, errors
    assert "StudyDate" in errors["template_file"][0] and "garbage" in errors["template_file"][0]
    assert "garbage" in response.content.decode()
    assert not Job.objects.exists()


def _templated(template: str) -> Identity:
    belongs = Dataset()
    belongs.PatientID = "TPL-1"
    belongs.StudyInstanceUID = generate_uid()
    return Identity(attributes=merged(template_attributes(template), belongs),
                    series_instance_uid=generate_uid())


def test_the_modality_of_a_visible_light_class_is_its_own(tmp_path: Path) -> None:
    source = make_jpeg(tmp_path / "photo.jpg")
    options = ImageCreateOptions(identity=_templated(GOOD_XML),
                                 sop_class=ImageSopClass.VL_PHOTOGRAPHIC)
    output = create_image(source, tmp_path / "out", options).outputs[0].path
    ds = dcmread(output)
    assert ds.Modality == "XC"  # not the template's MR: VL Photographic is XC only
    assert list(ds.ImageType) == ["DERIVED", "PRIMARY"]  # the template's, both enumerated
    assert ds.InstitutionName == "Hospital of Templates"
    assert dciodvfy_errors(output) == []


def test_a_secondary_capture_takes_the_template_modality(tmp_path: Path) -> None:
    source = make_png(tmp_path / "scan.png")
    template = _json({"00080060": ("CS", ["MR"]),
                      "00080008": ("CS", ["NONSENSE", "SECONDARY", "SCREEN"])})
    options = ImageCreateOptions(identity=_templated(template),
                                 sop_class=ImageSopClass.SECONDARY_CAPTURE)
    output = create_image(source, tmp_path / "out", options).outputs[0].path
    ds = dcmread(output)
    assert ds.Modality == "MR"  # what was captured: any modality for SC
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY", "SCREEN"]  # value 1 ours: enumerated
    assert dciodvfy_errors(output) == []


@pytest.mark.django_db(transaction=True)
def test_a_job_with_an_xml_template_makes_objects_dciodvfy_accepts(
        celery_worker_process: Path, operator: User) -> None:
    with import_folder() as folder:
        make_jpeg(folder / "photo.jpg")
        job = run_conversion("create", operator, path=str(folder), output="archive",
                             patient_id="TPL-2", image_class="vl_photographic",
                             template=GOOD_XML)

    assert job.status == JobStatus.SUCCEEDED, job.error
    instance = Instance.objects.get()
    ds = dcmread(absolute_path(instance.file_path))
    assert ds.SOPClassUID == VL_PHOTOGRAPHIC and ds.Modality == "XC"
    assert str(ds.PatientName) == "Xml^Tina" and ds.PatientID == "TPL-2"
    assert ds.PatientBirthDate == "19800229"
    assert ds.StudyDescription == "From the XML template"
    assert instance.series.study.study_description == "From the XML template"
    assert dciodvfy_errors(absolute_path(instance.file_path)) == []
