"""SCP listeners: the DICOM services the console offers, hosted by the listener worker."""
