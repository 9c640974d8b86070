"""Query/Retrieve jobs: find (C-FIND), move (C-MOVE) and get (C-GET)."""
