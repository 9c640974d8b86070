"""Listener page and association monitor with many recorded associations (issue 10).

    [DATABASE_URL=postgresql://…/scratch] .venv/bin/python bench/listener_page_bench.py \\
        [--associations 10000] [--runs 7]

Creates N recorded associations (each with presentation contexts and DIMSE messages) for
one listener in a throwaway database, then times GET of the listener page, of the monitor
(first page, and filtered by the listener and by result), rendered in-process by Django's
test client as a logged-in viewer. Prints the median of several runs in ms; the target for
the listener page is under 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from typing import Any

from common import cleanup, setup_django

CONTEXTS = 3
MESSAGES = 4
BATCH = 2000
TARGET_MS = 300.0


def create_associations(count: int) -> Any:
    from django.utils import timezone
    from pydicom.uid import generate_uid

    from netjobs.models import (
        Association,
        AssociationOutcome,
        AssociationRole,
        DimseDirection,
        DimseMessage,
        Listener,
        PresentationContext,
    )

    listener = Listener.objects.create(name="bench", ae_title="CONSOLE", port=11112)
    start = timezone.now() - timedelta(seconds=count)
    outcomes = [AssociationOutcome.RELEASED] * 8 + [AssociationOutcome.REJECTED,
                                                    AssociationOutcome.ABORTED]
    for first in range(0, count, BATCH):
        rows = [Association(
            listener=listener, role=AssociationRole.ACCEPTOR,
            outcome=outcomes[index % len(outcomes)],
            calling_ae_title=f"MODALITY{index % 25}", called_ae_title="CONSOLE",
            peer_host="127.0.0.1", peer_port=40000 + index % 20000,
            started_at=start + timedelta(seconds=index),
            ended_at=start + timedelta(seconds=index, milliseconds=80),
            bytes_sent=2048, bytes_received=524288 * 2, dimse_messages_total=MESSAGES,
            dimse_failures=int(index % 50 == 0),
        ) for index in range(first, min(first + BATCH, count))]
        Association.objects.bulk_create(rows)
        created = list(Association.objects.filter(listener=listener).order_by("-pk")
                       [:len(rows)])
        PresentationContext.objects.bulk_create(
            PresentationContext(association=a, context_id=2 * n + 1,
                                abstract_syntax="1.2.840.10008.5.1.4.1.1.2",
                                proposed_transfer_syntaxes=["1.2.840.10008.1.2.1"], result=0,
                                accepted_transfer_syntax="1.2.840.10008.1.2.1")
            for a in created for n in range(CONTEXTS))
        DimseMessage.objects.bulk_create(
            DimseMessage(association=a, at=a.started_at, context_id=1, message_id=n // 2 + 1,
                         direction=DimseDirection.RECEIVED if n % 2 == 0
                         else DimseDirection.SENT,
                         command="C-STORE-RQ" if n % 2 == 0 else "C-STORE-RSP",
                         status=None if n % 2 == 0 else 0,
                         affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                         affected_sop_instance_uid=generate_uid())
            for a in created for n in range(MESSAGES))
    return listener


def median_ms(client: Any, url: str, runs: int) -> tuple[float, int]:
    client.get(url)  # warm: templates compiled, caches filled
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--associations", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client

    from console.roles import Role

    started = time.perf_counter()
    listener = create_associations(args.associations)
    print(f"database: {connection.vendor}; {args.associations} associations with "
          f"{CONTEXTS} contexts and {MESSAGES} DIMSE messages each, created in "
          f"{time.perf_counter() - started:.1f} s")
    viewer = User.objects.create_user("bench-viewer", password="x")
    viewer.groups.add(Group.objects.get_or_create(name=Role.VIEWER.group_name)[0])
    client = Client()
    client.force_login(viewer)
    pages = {
        "listener page": f"/listeners/{listener.pk}/",
        "monitor, first page": "/associations/",
        "monitor, filtered by listener": f"/associations/?listener={listener.pk}",
        "monitor, rejected only, page 3": "/associations/?result=rejected&page=3",
        "monitor, since=24h with failures": "/associations/?since=24h&failures=1",
    }
    for name, url in pages.items():
        median, size = median_ms(client, url, args.runs)
        verdict = ""
        if name == "listener page":
            verdict = " — under the 300 ms target" if median < TARGET_MS else " — OVER 300 ms"
        print(f"{name:34s} {url:44s} median {median:6.1f} ms of {args.runs} runs, "
              f"{size / 1024:.0f} KB{verdict}")


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
