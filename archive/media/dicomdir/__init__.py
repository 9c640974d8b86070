"""The DICOMDIR: its record tree, how it is read and written, and what goes into records."""
