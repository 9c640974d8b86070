"""New image instances from picture files: JPEG encapsulated as it is (like jpg2dcm and
img2dcm), PNG/BMP/TIFF/raw decoded and written uncompressed or in a chosen transfer syntax
(like gdcmimg), as Secondary Capture, VL Photographic or VL Endoscopic images, one file an
instance or several files one multi-frame instance. See ``create`` for the rules."""

from archive.objects.images.commands import image_command_lines
from archive.objects.images.create import (
    ImageCreateOptions,
    RawImageSpec,
    create_image,
    create_multiframe,
    image_format_of,
    is_image,
)
from archive.objects.images.jpeg import JpegInfo, JpegProcess, jpeg_end, parse_jpeg
from archive.objects.images.pixels import ImageFormat
from archive.objects.images.sop_classes import ImageSopClass

__all__ = [
    "ImageCreateOptions",
    "ImageFormat",
    "ImageSopClass",
    "JpegInfo",
    "JpegProcess",
    "RawImageSpec",
    "create_image",
    "create_multiframe",
    "image_command_lines",
    "image_format_of",
    "is_image",
    "jpeg_end",
    "parse_jpeg",
]
