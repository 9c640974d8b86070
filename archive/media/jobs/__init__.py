"""The media job kinds: mkmedia, and update, delete and compact of a File-set."""
