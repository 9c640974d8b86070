"""Imports into the archive: server paths, folders, ZIP files, DICOMDIR media, browser uploads."""
