"""The database connection of an association thread.

Handlers run in their association's thread, which keeps one connection for the whole
association and closes it when the association ends (see ``server``). Django's
``close_old_connections`` would instead close it before every request when CONN_MAX_AGE
is 0, so each C-STORE would pay for a new PostgreSQL connection (bench/listener_bench.py, 500
CT files: 33 instances/s with it, 63 without)."""

from __future__ import annotations

from django.db import connection


def usable_connection() -> None:
    """Drop the thread's connection only if an error left it unusable."""
    if connection.connection is not None and connection.errors_occurred \
            and not connection.is_usable():
        connection.close()
