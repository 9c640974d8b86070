"""split (emf2sf): Enhanced and Legacy Converted Enhanced CT / MR / PET multi-frame images
to legacy single-frame CT / MR / PET Image instances, one per frame."""

from archive.conversions.split.convert import SplitOptions, split_file

__all__ = ["SplitOptions", "split_file"]
