"""A merge and its undo in the event log (router/reports/schema.py) and the
figures (router/reports/figures.py), on every backend of
tests/router/store/test_contract.py: the conversation a merge folds is logged
``merged`` (no resolve: no resolution, containment or SLA of it), and the undo
``unmerged`` at the undo's time (no reopening dated before the merge), after
which the folded conversation's cycle goes on and is judged."""

from __future__ import annotations

from datetime import timedelta

from router.identity.types import MergeRequest
from router.reports.events import Kind
from router.reports.figures import GroupBy, Queues, report
from router.store.base import Store
from tests.router.identity.test_store_contract import _writes
from tests.router.store.test_contract import T0

H = timedelta(hours=1)
M = timedelta(minutes=1)


async def test_a_merge_folds_without_resolving_and_its_undo_is_dated_now(store: Store) -> None:
    phone, conv_phone, _ = await _writes(store, "sms", "+79123456789", "p1", T0)
    web, conv_web, _ = await _writes(store, "webchat", "v-1", "w1", T0 + 5 * M)
    record = await store.merge_customers(MergeRequest(phone, web, "agent", "agt_1", "looked alike"), T0 + H)
    folded = conv_web if (await store.get_conversation(conv_web)).status.value == "resolved" else conv_phone
    await store.unmerge_customers(record.id, "agt_1", "two people", T0 + 2 * H)

    events = await store.events_of(folded)
    kinds = [(e.kind, e.at - T0) for e in events]
    assert (Kind.MERGED, H) in kinds and (Kind.UNMERGED, 2 * H) in kinds
    assert not {Kind.RESOLVED, Kind.REOPENED} & {e.kind for e in events}
    assert all(e.at >= events[0].at for e in events)  # nothing dated before what it follows

    day = (T0 - H, T0 + 3 * H)
    a_minute = Queues(lookup=lambda team: (60.0, None))  # every queue answers within a minute
    [row] = report(await store.conversation_events(*day), [], *day, GroupBy.DAY, a_minute).rows
    assert (row["opened"], row["reopened"], row["resolved"]) == (2, 0, 0)
    # both open again, unanswered for hours past their minute: missed (the undo's cycle goes on, judged)
    assert (row["sla_met"], row["sla_missed"]) == (0, 2)


async def test_a_merge_not_undone_leaves_the_folded_cycle_unjudged(store: Store) -> None:
    phone, _, _ = await _writes(store, "sms", "+79123456789", "p1", T0)
    web, _, _ = await _writes(store, "webchat", "v-1", "w1", T0 + 5 * M)
    await store.merge_customers(MergeRequest(phone, web, "agent", "agt_1", "looked alike"), T0 + H)
    day = (T0 - H, T0 + 3 * H)
    a_minute = Queues(lookup=lambda team: (60.0, None))
    [row] = report(await store.conversation_events(*day), [], *day, GroupBy.DAY, a_minute).rows
    # the folded one is not judged; the kept one, unanswered for 3 h past its minute, is missed
    assert (row["opened"], row["resolved"], row["sla_met"], row["sla_missed"]) == (2, 0, 0, 1)
