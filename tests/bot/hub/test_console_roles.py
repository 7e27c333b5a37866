"""Who sees and does what: agents, analysts and admins; URL tampering goes nowhere."""

from __future__ import annotations

from tests.bot.hub.conftest import waiting_handoff


async def test_an_agent_sees_the_queue_and_their_own_not_a_colleagues(hub, console, desk):
    sam = await console("sam")
    kim = await console("kim")
    waiting = await waiting_handoff(desk, "c-wait")
    kims = await waiting_handoff(desk, "c-kim")
    assert (await kim.post(f"/console/handoffs/{kims.id}/claim")).status == 200
    queue = await (await sam.client.get("/api/console/queue")).json()
    assert [row["id"] for row in queue["waiting"]] == [waiting.id]
    assert queue["mine"] == [] and queue["others"] == []
    page = await (await sam.client.get("/console")).text()
    assert kims.id not in page and waiting.id in page


async def test_an_agent_cannot_open_a_colleagues_conversation_by_editing_the_url(hub, console,
                                                                                desk):
    sam = await console("sam")
    kim = await console("kim")
    kims = await waiting_handoff(desk, "c-kim")
    await kim.post(f"/console/handoffs/{kims.id}/claim")
    base = f"/console/handoffs/{kims.id}"
    for path in (base, f"/api/console/handoffs/{kims.id}",
                 f"/api/console/handoffs/{kims.id}/stream"):
        answer = await sam.client.get(path)
        assert answer.status == 404, path
    # Kim's handoff: not found for Sam, except a claim, which conflicts (it is taken).
    for action, form, status in (("reply", {"text": "hi"}, 404), ("note", {"text": "x"}, 404),
                                 ("resolve", {"note": "done"}, 404), ("transfer", {"to": "sam"}, 404),
                                 ("release", {}, 404), ("close", {}, 404), ("claim", {}, 409)):
        answer = await sam.post(f"{base}/{action}", **form)
        assert answer.status == status, action
    handoff = await desk.store.get(kims.id)
    assert (handoff.state, handoff.agent_name, handoff.revision) == ("assigned", "kim", 2)


async def test_unknown_handoffs_are_404_not_500(hub, console):
    sam = await console("sam")
    assert (await sam.client.get("/console/handoffs/H-NOPE")).status == 404
    assert (await sam.post("/console/handoffs/'%20OR%201=1/claim")).status == 404


async def test_an_analyst_reads_everything_and_changes_nothing(hub, console, desk):
    kim = await console("kim")
    ana = await console("ana", role="analyst")
    kims = await waiting_handoff(desk, "c-kim")
    await kim.post(f"/console/handoffs/{kims.id}/claim")
    waiting = await waiting_handoff(desk, "c-wait")
    queue = await (await ana.client.get("/api/console/queue")).json()
    assert [r["id"] for r in queue["others"]] == [kims.id]
    assert (await ana.client.get(f"/console/handoffs/{kims.id}")).status == 200
    assert (await ana.post(f"/console/handoffs/{waiting.id}/claim")).status == 403
    assert (await ana.post(f"/console/handoffs/{waiting.id}/note", text="x")).status == 403
    assert (await ana.post("/console/takeover", conversation_id="c-1")).status == 403
    page = await (await ana.client.get("/console")).text()
    assert "/claim" not in page


async def test_an_admin_sees_everyone_and_can_step_in(hub, console, desk, sender, fake_rasa):
    kim = await console("kim")
    boss = await console("boss", role="admin")
    kims = await waiting_handoff(desk, "c-kim")
    await kim.post(f"/console/handoffs/{kims.id}/claim")
    queue = await (await boss.client.get("/api/console/queue")).json()
    assert [r["id"] for r in queue["others"]] == [kims.id]
    answer = await boss.post(f"/console/handoffs/{kims.id}/transfer", to="boss")
    assert answer.status == 200
    assert (await desk.store.get(kims.id)).agent_name == "boss"
    assert (await kim.client.get(f"/console/handoffs/{kims.id}")).status == 404


async def test_only_an_admin_takes_over_from_the_bot(hub, console, desk, fake_rasa):
    sam = await console("sam")
    boss = await console("boss", role="admin")
    fake_rasa.events["tg-42"] = [{"event": "user", "text": "hello", "input_channel": "telegram",
                                  "timestamp": 1.0, "parse_data": {"intent": {"name": "greet"}}}]
    assert (await sam.post("/console/takeover", conversation_id="tg-42")).status == 403
    answer = await boss.post("/console/takeover", conversation_id="tg-42")
    assert answer.status == 200
    handoff = await desk.store.open_for("tg-42")
    assert (handoff.state, handoff.agent_name, handoff.channel) == ("assigned", "boss", "telegram")
    assert (await answer.json())["location"] == f"/console/handoffs/{handoff.id}"
    assert fake_rasa.kinds("tg-42") == ["pause"]
    again = await boss.post("/console/takeover", conversation_id="tg-42")
    assert again.status == 200 and fake_rasa.kinds("tg-42") == ["pause"]
    chief = await console("chief", role="admin")
    assert (await chief.post("/console/takeover", conversation_id="tg-42")).status == 409
    unknown = await boss.post("/console/takeover", conversation_id="nobody-here")
    assert unknown.status == 400
