"""The archive: study index, storage under STORAGE_ROOT, and file tools."""
