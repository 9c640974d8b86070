"""Transfer syntaxes the DICOM standard added after pydicom 3.0.2's UID dictionary.

Without an entry pydicom refuses to read a file that uses one ("UID is not a transfer
syntax"), although their datasets are ordinary explicit VR little endian. Registered once,
when the archive app starts.
"""

from pydicom._uid_dict import UID_dictionary

NEWER_TRANSFER_SYNTAXES = {
    "1.2.840.10008.1.2.8.1": ("Deflated Image Frame Compression", "DeflatedImageFrameCompression"),
    "1.2.840.10008.1.2.4.110": ("JPEG XL Lossless", "JPEGXLLossless"),
    "1.2.840.10008.1.2.4.111": ("JPEG XL JPEG Recompression", "JPEGXLJPEGRecompression"),
    "1.2.840.10008.1.2.4.112": ("JPEG XL", "JPEGXL"),
}


def register_newer_transfer_syntaxes() -> None:
    for uid, (name, keyword) in NEWER_TRANSFER_SYNTAXES.items():
        UID_dictionary.setdefault(uid, (name, "Transfer Syntax", "", "", keyword))
