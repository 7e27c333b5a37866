"""The console audit log on real SQLite and PostgreSQL (bot.hub.audit)."""

from __future__ import annotations

from bot.hub.audit import AuditLog

PASSWORD = "correct horse battery"


async def test_entries_come_back_newest_first_and_filtered(db, directory):
    sam = await directory.add("sam", "agent", PASSWORD)
    boss = await directory.add("boss", "admin", PASSWORD)
    log = AuditLog(db)
    await log.record(sam, "viewed", "H-1")
    await log.record(sam, "claimed", "H-1")
    await log.record(boss, "took_over", "H-2", "x" * 500)
    entries = await log.entries()
    assert [(e.agent_name, e.action, e.handoff_id) for e in entries] == [
        ("boss", "took_over", "H-2"), ("sam", "claimed", "H-1"), ("sam", "viewed", "H-1")]
    assert len(entries[0].detail) == 300 and entries[0].at.tzinfo is not None
    assert [e.action for e in await log.entries(handoff_id="H-1")] == ["claimed", "viewed"]
    assert [e.action for e in await log.entries(agent_name="boss")] == ["took_over"]
    assert len(await log.entries(limit=1)) == 1
