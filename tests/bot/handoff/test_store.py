"""The handoff queue on SQLite and PostgreSQL: records, moves, races, leases, CSAT."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.priority import Factors
from bot.handoff.tables import open_database
from bot.handoff.states import ABANDONED, ASSIGNED, CALLBACK, RESOLVED, WAITING
from bot.handoff.store import HandoffConflict, HandoffNotFound, HandoffStore, NewHandoff

PASSWORD = "correct horse battery"


def new(conversation: str = "c-1", **changes) -> NewHandoff:
    values = dict(conversation_id=conversation, channel="webchat", reason="asked for a person",
                  packet={"summary": ["x"]})
    values.update(changes)
    return NewHandoff(**values)


@pytest.fixture
async def agents(directory):
    return (await directory.add("sam", "agent", PASSWORD),
            await directory.add("kim", "agent", PASSWORD),
            await directory.add("boss", "admin", PASSWORD))


async def test_a_new_handoff_waits_with_its_priority_and_packet(store):
    handoff = await store.create(new(factors=Factors(severity="high", tier="vip"),
                                     customer_id="C-1", customer_name="Ada", case_id="CS1"))
    again = await store.get(handoff.id)
    assert again == handoff
    assert handoff.state == WAITING and handoff.is_open
    assert handoff.base.points == 70 and dict(handoff.base.reasons)["VIP customer"] == 25
    assert handoff.packet == {"summary": ["x"]}
    assert (handoff.customer_name, handoff.case_id, handoff.revision) == ("Ada", "CS1", 1)
    assert handoff.created_at.tzinfo is not None


async def test_one_open_handoff_per_conversation(store):
    first = await store.create(new())
    second = await store.create(new(reason="again"))
    assert second.id == first.id
    other = await store.create(new("c-2"))
    assert other.id != first.id


async def test_after_a_handoff_closes_the_conversation_can_hand_off_again(store, agents):
    sam = agents[0]
    first = await store.create(new())
    await store.claim(first.id, sam.id)
    await store.resolve(first.id, sam.id, "sorted")
    second = await store.create(new())
    assert second.id != first.id and second.state == WAITING


async def test_the_queue_is_in_priority_order(store):
    low = await store.create(new("c-low"))
    high = await store.create(new("c-high", factors=Factors(severity="critical")))
    mid = await store.create(new("c-mid", factors=Factors(public_risk=True)))
    assert [h.id for h in await store.open_handoffs()] == [high.id, mid.id, low.id]


async def test_claim_then_only_the_owner_resolves(store, agents):
    sam, kim, _ = agents
    handoff = await store.create(new())
    claimed = await store.claim(handoff.id, sam.id)
    assert (claimed.state, claimed.agent_id, claimed.agent_name) == (ASSIGNED, sam.id, "sam")
    assert claimed.assigned_at is not None and claimed.revision == 2
    with pytest.raises(HandoffConflict) as raised:
        await store.resolve(handoff.id, kim.id, "not mine")
    assert "assigned to sam" in str(raised.value)
    resolved = await store.resolve(handoff.id, sam.id, "  refunded  ")
    assert (resolved.state, resolved.resolution_note, resolved.handback) == (RESOLVED, "refunded",
                                                                            RESOLVED)
    assert resolved.closed_at is not None and not resolved.is_open


async def test_a_second_claim_loses(store, agents):
    sam, kim, _ = agents
    handoff = await store.create(new())
    await store.claim(handoff.id, sam.id)
    with pytest.raises(HandoffConflict) as raised:
        await store.claim(handoff.id, kim.id)
    assert raised.value.state == ASSIGNED and raised.value.agent_name == "sam"


async def test_simultaneous_claims_from_separate_processes_have_one_winner(hub_url, store, agents):
    handoff = await store.create(new())
    databases = [open_database(hub_url) for _ in range(4)]
    stores = [HandoffStore(db) for db in databases]
    try:
        results = await asyncio.gather(
            *(s.claim(handoff.id, agent.id) for s, agent in zip(stores, agents * 2)),
            return_exceptions=True)
    finally:
        for db in databases:
            await db.close()
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, HandoffConflict) for r in results if isinstance(r, Exception))
    assert (await store.get(handoff.id)).agent_id == winners[0].agent_id


async def test_transfer_by_the_owner_or_an_admin(store, agents):
    sam, kim, boss = agents
    handoff = await store.create(new())
    await store.claim(handoff.id, sam.id)
    with pytest.raises(HandoffConflict):
        await store.transfer(handoff.id, kim.id, kim.id, "kim", "kim")
    moved = await store.transfer(handoff.id, kim.id, sam.id, "sam", "kim")
    assert (moved.state, moved.agent_name) == (ASSIGNED, "kim")
    back = await store.transfer(handoff.id, sam.id, None, "boss", "sam")
    assert back.agent_name == "sam"
    notes = await store.notes(handoff.id)
    assert [(n.author, n.kind, n.text) for n in notes] == [
        ("sam", "transfer", "transferred to kim"), ("boss", "transfer", "transferred to sam")]


async def test_release_puts_it_back_in_the_queue(store, agents):
    sam = agents[0]
    handoff = await store.create(new())
    await store.claim(handoff.id, sam.id)
    released = await store.release(handoff.id, sam.id)
    assert (released.state, released.agent_id, released.assigned_at) == (WAITING, None, None)


async def test_callback_only_while_nobody_has_claimed_it(store, agents):
    waiting = await store.create(new("c-1"))
    claimed = await store.create(new("c-2"))
    await store.claim(claimed.id, agents[0].id)
    assert (await store.callback(waiting.id)).state == CALLBACK
    with pytest.raises(HandoffConflict):
        await store.callback(claimed.id)
    with pytest.raises(HandoffNotFound):
        await store.callback("H-NOPE")


async def test_overdue_handoffs(store, agents):
    old = await store.create(new("c-1"))
    await store.create(new("c-2"))
    assert await store.overdue(timedelta(hours=1)) == []
    assert set(await store.overdue(timedelta(seconds=-1))) >= {old.id}


async def test_abandon_with_or_without_resuming_the_bot(store):
    first = await store.create(new("c-1"))
    second = await store.create(new("c-2"))
    assert (await store.abandon(first.id)).handback == ABANDONED
    after_restart = await store.abandon(second.id, resume_bot=False)
    assert (after_restart.state, after_restart.handback) == (ABANDONED, None)


async def test_the_hand_back_lease_goes_to_one_caller_at_a_time(store, agents):
    sam = agents[0]
    handoff = await store.create(new())
    assert await store.lease_handback(handoff.id, timedelta(seconds=30)) is None  # nothing due
    await store.claim(handoff.id, sam.id)
    await store.resolve(handoff.id, sam.id, "done")
    assert await store.pending_handbacks() == [handoff.id]
    leased = await store.lease_handback(handoff.id, timedelta(seconds=30))
    assert leased is not None and leased.handback == RESOLVED
    assert await store.lease_handback(handoff.id, timedelta(seconds=30)) is None
    assert await store.pending_handbacks() == []
    await store.handback_done(handoff.id)
    assert (await store.get(handoff.id)).handback is None


async def test_an_expired_lease_can_be_taken_again(store, agents):
    handoff = await store.create(new())
    await store.callback(handoff.id)
    assert await store.lease_handback(handoff.id, timedelta(seconds=-1)) is not None
    assert await store.lease_handback(handoff.id, timedelta(seconds=30)) is not None


async def test_the_customers_latest_message_is_kept_in_order(store):
    now = datetime.now(timezone.utc)
    handoff = await store.create(new(last_customer_text="a person please",
                                     last_customer_at=now - timedelta(seconds=5)))
    assert handoff.last_customer_text == "a person please"
    await store.customer_said("c-1", "said before the handoff", 3, now - timedelta(seconds=9))
    assert (await store.get(handoff.id)).last_customer_text == "a person please"
    assert await store.customer_said("c-1", "hello?", 10, now) == handoff.id
    await store.customer_said("c-1", "read late", 11, now - timedelta(seconds=1))
    assert (await store.get(handoff.id)).last_customer_text == "hello?"
    assert await store.customer_said("c-unknown", "hi", 12, now) is None


async def test_csat_lands_on_the_handoff_resolved_last(store, agents):
    sam = agents[0]
    handoff = await store.create(new())
    assert await store.record_csat("c-1", 4) is None  # not resolved yet
    await store.claim(handoff.id, sam.id)
    await store.resolve(handoff.id, sam.id, "done")
    assert await store.record_csat("c-1", 5) == handoff.id
    assert await store.record_csat("c-1", 1) is None  # the first rating stands
    assert (await store.get(handoff.id)).csat == 5


async def test_the_digest_changes_with_every_change(store, agents):
    before = await store.digest()
    handoff = await store.create(new())
    created = await store.digest()
    await store.add_note(handoff.id, "sam", "looks like a courier problem")
    noted = await store.digest()
    await store.customer_said("c-1", "hello?", 1)
    said = await store.digest()
    await store.claim(handoff.id, agents[0].id)
    assert len({before, created, noted, said, await store.digest()}) == 5


async def test_notes_are_kept_in_order_and_empty_ones_ignored(store):
    handoff = await store.create(new())
    await store.add_note(handoff.id, "sam", "first")
    await store.add_note(handoff.id, "sam", "   ")
    await store.add_note(handoff.id, None, "second", kind="system")
    assert [(n.author, n.text) for n in await store.notes(handoff.id)] == [
        ("sam", "first"), (None, "second")]


async def test_pickup_times_leave_out_takeovers(store, agents):
    sam = agents[0]
    handoff = await store.create(new("c-1"))
    await asyncio.sleep(0.05)
    await store.claim(handoff.id, sam.id)
    await store.create(new("c-2", state=ASSIGNED, agent_id=sam.id))
    times = await store.pickup_times()
    assert len(times) == 1 and times[0] > 0


async def test_recent_closed_handoffs_newest_first(store, agents):
    sam, kim, _ = agents
    for number, agent in enumerate((sam, kim, sam)):
        handoff = await store.create(new(f"c-{number}"))
        await store.claim(handoff.id, agent.id)
        await store.resolve(handoff.id, agent.id, f"done {number}")
    notes = [h.resolution_note for h in await store.recent()]
    assert notes == ["done 2", "done 1", "done 0"]
    assert [h.resolution_note for h in await store.recent(agent_id=kim.id)] == ["done 1"]
