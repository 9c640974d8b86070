"""Objects in and out: new DICOM objects from images, video and documents, what they
encapsulate extracted back, and attribute edits with a before/after history."""
