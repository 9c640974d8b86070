"""DICOM networking building blocks shared by SCU operations and SCP listeners."""
