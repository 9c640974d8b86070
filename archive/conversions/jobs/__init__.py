"""The conversion job kinds: where the files come from, where the outputs go, and how one
job shares its files among the worker processes that are free."""
