"""Transcode (dcm2dcm, gdcmconv): one DICOM file to another transfer syntax, frame by frame.

``transcode_file(source, out_dir, options)`` decodes each frame with pydicom's decoders,
encodes it (pydicom's encoders for RLE, JPEG-LS and JPEG 2000; imagecodecs' libjpeg-turbo for
JPEG Baseline, Extended and Lossless SV1, OpenJPH for HTJ2K), spools the codestreams to a
temporary file in ``out_dir`` and writes the Part 10 file around them. Memory: one decoded
frame, its codestream and the dataset without pixel data (values over 64 KiB stay in the
source file until written); the offsets are a list of integers per frame. Deflated sources
are the exception: pydicom inflates the whole dataset. ``command_lines`` gives the
equivalent dcm2dcm, gdcmconv and DCMTK commands.
"""

from archive.conversions.transcode.commands import command_lines
from archive.conversions.transcode.convert import transcode_file
from archive.conversions.transcode.options import TranscodeOptions

__all__ = ["TranscodeOptions", "command_lines", "transcode_file"]
