"""PS3.15 Table E.1-1 as data, and the script that makes it."""
