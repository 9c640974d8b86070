"""An association of 100+ presentation contexts shows a summary (accepted n / rejected m, by
result and transfer syntax) whose full table is collapsed; a small one shows its table."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.contrib.auth.models import User
from pynetdicom import AE, AllStoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from netjobs.listeners.manager import ListenerManager
from netjobs.models import Association, Listener
from tests.conftest import logged_in
from tests.listener_helpers import make_listener, settled

pytestmark = pytest.mark.django_db(transaction=True)

STANDARD = 110
UNKNOWN = [f"1.2.826.0.1.3680043.8.498.4401.{n}" for n in range(1, 11)]  # nobody supports them


def associate(listener: Listener, abstract_syntaxes: list[str]) -> tuple[int, int, Counter[str]]:
    """Propose the contexts, release; (accepted, rejected, accepted syntax names) as the
    requestor (pynetdicom) saw the answer."""
    ae = AE(ae_title="MANYCTX")
    for uid in abstract_syntaxes:
        ae.add_requested_context(uid, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    assoc = ae.associate("127.0.0.1", listener.port, ae_title=listener.ae_title)
    assert assoc.is_established
    syntaxes = Counter(cx.transfer_syntax[0].name for cx in assoc.accepted_contexts)
    counts = len(assoc.accepted_contexts), len(assoc.rejected_contexts), syntaxes
    assoc.release()
    return counts


def record_page(user: User, listener: Listener, calling: str = "MANYCTX") -> tuple[str, int]:
    record = Association.objects.get(listener=listener, calling_ae_title=calling)
    return logged_in(user).get(f"/associations/{record.pk}/record/").content.decode(), record.pk


def test_a_big_negotiation_is_summarised_and_expands(manager: ListenerManager,
                                                     viewer: User) -> None:
    listener = make_listener(storage=True, verification=True)
    manager.reconcile()
    standard = [str(cx.abstract_syntax) for cx in AllStoragePresentationContexts][:STANDARD]
    accepted, rejected, syntaxes = associate(listener, standard + UNKNOWN)
    assert accepted + rejected == STANDARD + len(UNKNOWN) and rejected >= len(UNKNOWN)
    settled(listener, 1)
    page, _ = record_page(viewer, listener)

    summary = re.search(r"Presentation contexts: (\d+)</strong> — accepted (\d+) / "
                        r"rejected (\d+)", page)
    assert summary is not None, page[:3000]
    assert tuple(map(int, summary.groups())) == (STANDARD + len(UNKNOWN), accepted, rejected)
    groups = page[page.index('class="context-summary"'):page.index("</table>",
                                                               page.index("context-summary"))]
    rows = dict(re.findall(r'accepted</mark>\n</td><td>([^<]+)</td><td class="num">(\d+)<',
                           groups))
    assert {name: int(n) for name, n in rows.items()} == dict(syntaxes)
    assert re.search(r'Abstract syntax not supported</mark>\n</td><td>—</td>'
                     r'<td class="num">(\d+)<', groups)
    counts = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', groups)]
    assert sum(counts) == STANDARD + len(UNKNOWN)
    # the full table is there, in a closed <details>
    full = page[page.index('<details class="contexts-full">'):]
    assert full.count("<tr>") - 1 == STANDARD + len(UNKNOWN)  # rows + the header row
    assert '<details class="contexts-full" open' not in page


def test_a_small_negotiation_shows_its_table(manager: ListenerManager, viewer: User) -> None:
    listener = make_listener(storage=True, verification=True)
    manager.reconcile()
    assert associate(listener, [str(Verification)])[:2] == (1, 0)
    settled(listener, 1)
    page, _ = record_page(viewer, listener)
    assert "context-summary" not in page and "contexts-full" not in page
    assert "Verification SOP Class" in page and 'class="negotiation"' in page
