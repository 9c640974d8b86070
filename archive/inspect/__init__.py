"""Inspection tools over one DICOM file: dump, DICOM JSON, element values."""
