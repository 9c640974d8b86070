"""DICOM media: File-sets with their DICOMDIR (PS3.10, PS3.11), built, read and changed."""
