"""Claim, reply, note, transfer, resolve and hand back; timeouts and retries."""

from __future__ import annotations

from bot.crm.interface import NewCase
from bot.handoff.states import ABANDONED, CALLBACK, RESOLVED, WAITING
from tests.bot.hub.conftest import CSAT_QUESTION, waiting_handoff


async def test_claim_reply_resolve_hands_back_to_the_bot(hub, console, desk, sender, fake_rasa,
                                                         crm_for_hub):
    case = await crm_for_hub.open_case(NewCase(
        customer_id="C-000000000001", order_number="RP-100003", category="damaged",
        severity="high", severity_score=7.0, severity_reasons=(), description="dented lid",
        status="needs_human"))
    handoff = await waiting_handoff(desk, "wc-abc", case_id=case.id, customer_id="C-000000000001")
    sam = await console("sam")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/claim")).status == 200

    answer = await sam.post(f"/console/handoffs/{handoff.id}/reply", text="  Hi, I'm Sam.  ")
    assert answer.status == 200
    assert sender.sent == [("wc-abc", [{"text": "Hi, I'm Sam.", "agent": "sam"}])]
    (cid, (recorded,)), = fake_rasa.appended
    assert cid == "wc-abc" and recorded["event"] == "bot" and recorded["text"] == "Hi, I'm Sam."
    assert recorded["metadata"] == {"agent": "sam"}

    answer = await sam.post(f"/console/handoffs/{handoff.id}/note", text="courier again")
    assert answer.status == 200
    assert (await sam.post(f"/console/handoffs/{handoff.id}/resolve", note="")).status == 400
    answer = await sam.post(f"/console/handoffs/{handoff.id}/resolve",
                            note="Sent a new lid by express.")
    assert answer.status == 200
    done = await desk.store.get(handoff.id)
    assert (done.state, done.resolution_note, done.handback) == (RESOLVED,
                                                                 "Sent a new lid by express.", None)
    assert fake_rasa.kinds("wc-abc") == ["bot", "resume", "action"]
    assert fake_rasa.triggered == [("wc-abc", "EXTERNAL_handoff_resolved")]
    delivered = sender.sent[-1]
    assert delivered[0] == "wc-abc" and delivered[1][-1]["text"] == CSAT_QUESTION
    assert all("recipient_id" not in message for message in delivered[1])
    stored = await crm_for_hub.get_case(case.id)
    assert stored.status == "resolved" and stored.resolution.startswith("Sent a new lid")
    notes = [n.text for n in await desk.store.notes(handoff.id)]
    assert notes == ["courier again"]


async def test_replies_need_the_conversation_to_be_yours(hub, console, desk, sender):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    answer = await sam.post(f"/console/handoffs/{handoff.id}/reply", text="hello")
    assert answer.status == 409 and sender.sent == []
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/reply", text="   ")).status == 400
    assert (await sam.post(f"/console/handoffs/{handoff.id}/reply", text="x" * 4001)).status == 400


async def test_a_reply_that_cannot_be_delivered_is_not_recorded(hub, console, desk, sender,
                                                                fake_rasa):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    sender.fail = True
    answer = await sam.post(f"/console/handoffs/{handoff.id}/reply", text="hello")
    assert answer.status == 502
    assert "unreachable" in (await answer.json())["error"]
    assert fake_rasa.appended == []


async def test_a_reply_delivered_while_rasa_is_down_is_noted_on_the_handoff(hub, console, desk,
                                                                            sender, fake_rasa):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    fake_rasa.failures = 1
    assert (await sam.post(f"/console/handoffs/{handoff.id}/reply", text="hello")).status == 200
    assert len(sender.sent) == 1
    assert "not recorded on the conversation" in (await desk.store.notes(handoff.id))[0].text


async def test_the_second_claim_is_told_who_has_it(hub, console, desk):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    kim = await console("kim")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/claim")).status == 200
    answer = await kim.post(f"/console/handoffs/{handoff.id}/claim")
    assert answer.status == 409
    assert "sam has it" in (await answer.json())["error"]


async def test_transfer_and_release(hub, console, desk):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    await console("kim")
    await console("ana", role="analyst")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/transfer", to="ana")).status == 400
    assert (await sam.post(f"/console/handoffs/{handoff.id}/transfer", to="ghost")).status == 400
    assert (await sam.post(f"/console/handoffs/{handoff.id}/transfer", to="KIM")).status == 200
    assert (await desk.store.get(handoff.id)).agent_name == "kim"
    assert (await sam.post(f"/console/handoffs/{handoff.id}/release")).status == 404  # not his now


async def test_release_puts_it_back_for_everyone(hub, console, desk):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/release")).status == 200
    assert (await desk.store.get(handoff.id)).state == WAITING


async def test_customer_left_closes_without_a_rating_question(hub, console, desk, fake_rasa,
                                                              sender):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/close")).status == 200
    assert (await desk.store.get(handoff.id)).state == ABANDONED
    assert fake_rasa.kinds("c-1") == ["resume", "action"] and fake_rasa.triggered == []
    assert sender.sent == []


async def test_nobody_in_time_the_sweeper_arranges_a_callback(hub, desk, sender, fake_rasa):
    handoff = await waiting_handoff(desk, "wc-late")
    desk.settings = desk.settings.with_changes(handoff_max_wait=0)
    await desk.sweep()
    closed = await desk.store.get(handoff.id)
    assert (closed.state, closed.handback) == (CALLBACK, None)
    assert fake_rasa.kinds("wc-late") == ["resume", "action"]
    assert fake_rasa.triggered == [("wc-late", "EXTERNAL_handoff_callback")]
    assert sender.sent == [("wc-late", [{"text": "None of my colleagues could get to you."}])]


async def test_a_failed_hand_back_is_retried_until_it_works(hub, console, desk, fake_rasa, sender):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    await sam.post(f"/console/handoffs/{handoff.id}/claim")
    fake_rasa.failures = 1
    answer = await sam.post(f"/console/handoffs/{handoff.id}/resolve", note="done")
    assert answer.status == 200
    pending = await desk.store.get(handoff.id)
    assert pending.state == RESOLVED and pending.handback == RESOLVED
    assert await desk.hand_back(handoff.id) is False  # leased by the failed attempt
    await desk.store.db.run(lambda c: c.exec_driver_sql(
        "UPDATE handoffs SET handback_lease = NULL"))
    await desk.sweep()
    assert (await desk.store.get(handoff.id)).handback is None
    assert fake_rasa.triggered == [("c-1", "EXTERNAL_handoff_resolved")]


async def test_a_callback_is_followed_up_in_the_chat(hub, console, desk, fake_rasa):
    handoff = await waiting_handoff(desk, "wc-cb")
    await desk.store.callback(handoff.id)
    await desk.store.handback_done(handoff.id)
    fake_rasa.events["wc-cb"] = [{"event": "user", "text": "hello", "input_channel": "webchat",
                                  "timestamp": 1.0, "parse_data": {"intent": {"name": "greet"}}}]
    sam = await console("sam")
    queue = await (await sam.client.get("/api/console/queue")).json()
    assert [r["id"] for r in queue["callbacks"]] == [handoff.id]
    answer = await sam.post(f"/console/handoffs/{handoff.id}/follow-up")
    assert answer.status == 200
    follow = await desk.store.open_for("wc-cb")
    assert follow.agent_name == "sam"
    assert follow.reason.startswith(f"follow-up of callback {handoff.id}")
    queue = await (await sam.client.get("/api/console/queue")).json()
    assert queue["callbacks"] == [] and [r["id"] for r in queue["mine"]] == [follow.id]


async def test_the_conversation_page_shows_transcript_packet_and_canned_responses(
        hub, console, desk, fake_rasa):
    handoff = await waiting_handoff(desk, "wc-page")
    at = handoff.created_at.timestamp() - 4  # the page shows the handoff's window
    fake_rasa.events["wc-page"] = [
        {"event": "user", "text": "<script>alert(1)</script> my order!", "timestamp": at + 1,
         "input_channel": "webchat",
         "parse_data": {"intent": {"name": "complain", "confidence": 0.9},
                        "sentiment": {"compound": -0.5}}},
        {"event": "bot", "text": "So sorry.", "timestamp": at + 2, "metadata": {}},
        {"event": "pause", "timestamp": at + 3},
        {"event": "bot", "text": "Hi, Kim here.", "timestamp": at + 4, "metadata": {"agent": "kim"}},
    ]
    sam = await console("sam")
    html = await (await sam.client.get(f"/console/handoffs/{handoff.id}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; my order!" in html and "<script>alert" not in html
    assert "complain 0.90" in html and "negative -0.50" in html
    assert "Hi, Kim here." in html and "turn-agent" in html
    assert "handed to a person" in html
    assert "Handed over because: customer asked for a person." in html
    assert "Not verified: no CRM data is shown" in html
    assert "I&#39;m sam from Lumen &amp; Oak" in html  # a canned response, filled in
    assert 'id="claim"' in html


async def test_without_rasa_the_page_still_opens(hub, console, desk, fake_rasa):
    handoff = await waiting_handoff(desk)
    sam = await console("sam")
    fake_rasa.failures = 5
    answer = await sam.client.get(f"/console/handoffs/{handoff.id}")
    assert answer.status == 200
    assert "transcript is unavailable" in await answer.text()
