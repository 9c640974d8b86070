"""De-identification of DICOM data sets (PS3.15 Annex E Attribute Confidentiality Profiles)."""
