"""The ``create`` run: each file (or all images, as one multi-frame instance) made into a
DICOM object of one new series, by what its content is — an image, a video or a document —
and delivered like a conversion's outputs (archive, ZIP or export folder)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db.models import Max
from pydicom.dataset import Dataset

from archive.conversions.jobs.outputs import Sink, staged_files, work_folder
from archive.conversions.jobs.run import Conversion, convert_item, summarise
from archive.conversions.jobs.sources import WorkItem, work_items
from archive.conversions.outcome import ConversionFailed, FileConversion
from archive.imports.uploads import remove_staged_upload
from archive.models import InstanceSource, Patient, Series, Study
from archive.objects.common import Identity
from archive.objects.documents import DocumentCreateOptions, create_document, detect_document
from archive.objects.images import (
    ImageCreateOptions,
    ImageSopClass,
    RawImageSpec,
    create_image,
    create_multiframe,
    is_image,
)
from archive.objects.jobs.params import CreateParams, ImageClass, VideoClass
from archive.objects.metadata import (
    MetadataRefused,
    NewPatientStudy,
    job_uid,
    merged,
    new_patient_study,
    new_study_values,
    patient_attributes,
    study_attributes,
    template_attributes,
)
from archive.objects.video import (
    VideoCreateOptions,
    VideoSopClass,
    container_of,
    create_video,
    is_video,
)
from netjobs.jobs.base import JobContext, JobFailed, JobOutcome
from netjobs.models import ItemOutcome, JobItem

IMAGE_CLASSES = {ImageClass.SECONDARY_CAPTURE: ImageSopClass.SECONDARY_CAPTURE,
                 ImageClass.VL_PHOTOGRAPHIC: ImageSopClass.VL_PHOTOGRAPHIC,
                 ImageClass.VL_ENDOSCOPIC: ImageSopClass.VL_ENDOSCOPIC}
VIDEO_CLASSES = {VideoClass.ENDOSCOPIC: VideoSopClass.ENDOSCOPIC,
                 VideoClass.PHOTOGRAPHIC: VideoSopClass.PHOTOGRAPHIC,
                 VideoClass.MICROSCOPIC: VideoSopClass.MICROSCOPIC}


@dataclass(frozen=True)
class Plan:
    """What one created instance is made of: one file, or several images as frames."""

    item: WorkItem
    sources: list[Path]


def belongs_to(params: CreateParams, job_id: int) -> tuple[Dataset, int]:
    """The patient/study attributes of the new objects and their series number."""
    if params.attach_study is not None:
        study = Study.objects.select_related("patient").filter(pk=params.attach_study).first()
        if study is None:
            raise JobFailed(f"Study {params.attach_study} is no longer in the archive.")
        highest = Series.objects.filter(study=study).aggregate(n=Max("series_number"))["n"]
        return study_attributes(study), (highest or 0) + 1
    study_uid = job_uid(job_id, "study")
    values = NewPatientStudy(
        patient_name=params.patient_name, patient_id=params.patient_id,
        patient_birth_date=params.patient_birth_date, patient_sex=params.patient_sex,
        study_description=params.study_description, accession_number=params.accession_number,
        referring_physician_name=params.referring_physician_name)
    if params.attach_patient is not None:
        patient = Patient.objects.filter(pk=params.attach_patient).first()
        if patient is None:
            raise JobFailed(f"Patient {params.attach_patient} is no longer in the archive.")
        return new_study_values(patient_attributes(patient, study_uid), values), 1
    return new_patient_study(values, study_uid), 1


def base_identity(params: CreateParams, job_id: int, outputs: int) -> Identity:
    belongs, series_number = belongs_to(params, job_id)
    try:
        template = template_attributes(params.template) if params.template else None
    except MetadataRefused as exc:
        raise JobFailed(str(exc)) from None
    if template is not None and outputs > 1 and "SOPInstanceUID" in template:
        del template.SOPInstanceUID  # one template, several instances: each its own UID
    return Identity(attributes=merged(template, belongs),
                    series_instance_uid=job_uid(job_id, "series"),
                    series_number=series_number, series_description=params.series_description,
                    now=datetime.now())


def plans(params: CreateParams, items: list[WorkItem]) -> list[Plan]:
    """One plan per file; with ``multi_frame``, the images together as one."""
    usable = [item for item in items if not item.problem]
    if not params.multi_frame:
        return [Plan(item, [Path(item.path)]) for item in items]
    images = [item for item in usable
              if params.raw is not None or is_image(Path(item.path))]
    others = [item for item in items if item not in images]
    if len(images) < 2:
        return [Plan(item, [Path(item.path)]) for item in items]
    group = WorkItem(name=images[0].name, path=images[0].path,
                     size=sum(item.size for item in images), folder=images[0].folder)
    # The item is named after the first image (so "retry failed only" finds them again:
    # a retry of that name regroups every image); its message says how many frames.
    return [Plan(group, [Path(item.path) for item in images]),
            *[Plan(item, [Path(item.path)]) for item in others]]


def image_options(params: CreateParams, identity: Identity) -> ImageCreateOptions:
    raw = params.raw
    return ImageCreateOptions(
        identity=identity, sop_class=IMAGE_CLASSES[params.image_class], target=params.target,
        lossy=params.lossy, keep_app_segments=params.keep_app_segments,
        raw=RawImageSpec(columns=raw.columns, rows=raw.rows,
                         bits_allocated=raw.bits_allocated,
                         samples_per_pixel=raw.samples_per_pixel, signed=raw.signed,
                         big_endian=raw.big_endian, offset=raw.offset) if raw else None)


def create_one(params: CreateParams, identity: Identity, sources: list[Path],
               out_dir: Path) -> FileConversion:
    """The object one plan makes, by what its file is."""
    if len(sources) > 1:
        return create_multiframe(sources, out_dir, image_options(params, identity))
    source = sources[0]
    if params.raw is not None or is_image(source):
        return create_image(source, out_dir, image_options(params, identity))
    if is_video(source) or _video_container(source):  # a broken one: ffprobe says why
        return create_video(source, out_dir, VideoCreateOptions(
            identity=identity, sop_class=VIDEO_CLASSES[params.video_class]))
    try:
        kind = detect_document(source)
    except ConversionFailed as exc:
        raise ConversionFailed(
            f"not an image, video or document a DICOM object can hold: {exc}") from None
    return create_document(source, out_dir, DocumentCreateOptions(
        identity=identity, title=params.title, kind=kind))


def _video_container(path: Path) -> bool:
    with path.open("rb") as handle:
        return container_of(handle.read(512)) is not None


def _creating(params: CreateParams, identity: Identity, sources: list[Path]
              ) -> Conversion[CreateParams]:
    def convert(_source: Path, out_dir: Path, _params: CreateParams) -> FileConversion:
        return create_one(params, identity, sources, out_dir)
    return Conversion(convert)


def run_create(ctx: JobContext, params: CreateParams) -> JobOutcome:
    job = ctx.job
    items = work_items(params)
    if not items:
        remove_staged_upload(params.upload)
        raise JobFailed("No file to make a DICOM object of: the path or upload is empty.")
    planned = plans(params, items)
    identity = base_identity(params, job.pk, len(planned))
    ctx.set_progress(0, len(planned))
    sink = Sink(job, params, InstanceSource.CREATED)
    started = datetime.now()
    try:
        for number, plan in enumerate(planned, start=1):
            ctx.check_cancelled()
            done = convert_item(job, plan.item, _creating(params, identity.numbered(number),
                                                          plan.sources), params, sink)
            done.item.save()
            ctx.set_progress(number)
        archive = sink.finish()
    finally:
        if not job.items.filter(outcome=ItemOutcome.FAILED).exists():
            remove_staged_upload(params.upload)
        shutil.rmtree(work_folder(job.pk), ignore_errors=True)
        shutil.rmtree(staged_files(job.pk), ignore_errors=True)
    if archive is not None:
        ctx.log(f"ZIP of the results: {archive.stat().st_size} bytes.")
    created = JobItem.objects.filter(job=job).exclude(
        outcome__in=[ItemOutcome.FAILED, ItemOutcome.SKIPPED]).count()
    ctx.log(f"{created} object(s) in series {identity.series_instance_uid}.")
    seconds = (datetime.now() - started).total_seconds()
    return summarise(ctx, {"outputs": created}, seconds, nothing_is_failure=True,
                     verb="created")
