"""The archive served over DICOMweb (PS3.18): QIDO-RS search under /dicomweb/."""
