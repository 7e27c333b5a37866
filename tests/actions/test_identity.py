"""The verification form's validation action against the seeded CRM."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.identity import ValidateVerifyForm
from bot.database import make_engine, naive_utcnow
from bot.settings import Settings
from tests.conftest import PROJECT, TODAY
from tests.support.trackers import DOMAIN, make_tracker, responses, slot_events



async def run_form(tracker):
    dispatcher = CollectingDispatcher()
    events = await ValidateVerifyForm().run(dispatcher, tracker, DOMAIN)
    return dispatcher, events


async def test_order_number_then_contact_verifies_and_remembers_nothing_for_rest(use_crm):
    tracker = make_tracker(text="RP-100001", intent="provide_order_number",
                           trailing_slots={"order_number": "RP-100001"})
    dispatcher, events = await run_form(tracker)
    assert slot_events(events)["order_number"] == "RP-100001"
    # Not verified: the form's own slots apply, so Rasa (not the action) asks for the next one.
    assert "requested_slot" not in slot_events(events)

    tracker = make_tracker(text="ada@example.com", intent="provide_email",
                           slots={"order_number": "RP-100001", "requested_slot": "order_contact"},
                           trailing_slots={"order_contact": "ada@example.com"})
    dispatcher, events = await run_form(tracker)
    slots = slot_events(events)
    assert slots["customer_verified"] is True
    assert slots["customer_id"] == "C-000000000001"
    assert slots["order_contact"] == "provided"
    assert responses(dispatcher) == ["utter_verified"]
    assert await use_crm.find_identity("rest", "test-user") is None


async def test_verified_on_telegram_is_remembered_for_that_user(use_crm):
    tracker = make_tracker(text="1012 AB", intent="inform", channel="telegram", sender="4242",
                           slots={"order_number": "RP-100001", "requested_slot": "order_contact"},
                           trailing_slots={"order_contact": "1012 AB"})
    await run_form(tracker)
    assert await use_crm.find_identity("telegram", "4242") == "C-000000000001"

    later = make_tracker(text="where is RP-100002", intent="ask_order_status", channel="telegram",
                         sender="4242", trailing_slots={"order_number": "RP-100002"})
    dispatcher, events = await run_form(later)
    slots = slot_events(events)
    assert slots["customer_verified"] is True and slots["order_number"] == "RP-100002"


async def test_wrong_details_say_nothing_about_the_order_and_lock_after_three(use_crm):
    seen = []
    for attempt in range(3):
        tracker = make_tracker(text="eve@example.com", intent="provide_email",
                               slots={"order_number": "RP-100001", "requested_slot": "order_contact"},
                               trailing_slots={"order_contact": "eve@example.com"})
        dispatcher, events = await run_form(tracker)
        seen.append((responses(dispatcher), slot_events(events)))
    assert seen[0][0] == seen[1][0] == ["utter_verify_failed"]
    # A failed match keeps the order number and asks for the contact detail again.
    assert "order_number" not in seen[0][1] and seen[0][1]["order_contact"] is None
    assert seen[2][0] == ["utter_verify_locked"]
    assert seen[2][1]["verification_locked"] is True
    assert seen[2][1]["requested_slot"] is None


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "RP-1'; DROP TABLE orders;--", "x" * 10_000,
                                     '"; SELECT * FROM customers; --'])
async def test_hostile_order_numbers_are_rejected_cleanly(use_crm, hostile):
    tracker = make_tracker(text=hostile, intent="inform", slots={"requested_slot": "order_number"},
                           trailing_slots={"order_number": hostile})
    dispatcher, events = await run_form(tracker)
    assert responses(dispatcher) == ["utter_order_number_invalid"]
    assert slot_events(events)["order_number"] is None


@pytest.mark.parametrize("hostile", ["' OR '1'='1", "' OR 'x'='x' --", "a" * 10_000 + "@x.com"])
async def test_hostile_contacts_are_rejected_without_an_attempt(use_crm, hostile, seeded_crm_url):
    tracker = make_tracker(text=hostile, intent="inform",
                           slots={"order_number": "RP-100001", "requested_slot": "order_contact"},
                           trailing_slots={"order_contact": hostile})
    dispatcher, events = await run_form(tracker)
    assert responses(dispatcher) == ["utter_contact_invalid"]
    assert slot_events(events)["order_contact"] is None
    engine = make_engine(seeded_crm_url)
    with engine.connect() as connection:
        attempts = connection.execute(text("SELECT COUNT(*) FROM verification_attempts")).scalar()
    engine.dispose()
    assert attempts == 0


async def test_an_address_inside_hostile_text_is_checked_alone(use_crm, seeded_crm_url):
    """The e-mail address is read out of the message; the rest never reaches the CRM."""
    hostile = "ada@example.com'; DROP TABLE customers; --"
    tracker = make_tracker(text=hostile, intent="inform",
                           slots={"order_number": "RP-100001", "requested_slot": "order_contact"})
    dispatcher, events = await run_form(tracker)
    assert responses(dispatcher) == ["utter_verified"]
    engine = make_engine(seeded_crm_url)
    with engine.connect() as connection:
        customers = connection.execute(text("SELECT COUNT(*) FROM customers")).scalar()
    engine.dispose()
    assert customers > 0


async def test_the_contact_first_is_kept_and_checked_when_the_order_number_comes(use_crm):
    first = make_tracker(text="my email is ada@example.com, what are my orders?",
                         intent="nlu_fallback")
    dispatcher, events = await run_form(first)
    assert slot_events(events)["order_contact"] == "ada@example.com"
    assert responses(dispatcher) == []
    then = make_tracker(text="oh its rp 100001", intent="inform",
                        slots={"order_contact": "ada@example.com", "requested_slot": "order_number"})
    dispatcher, events = await run_form(then)
    slots = slot_events(events)
    assert slots["order_number"] == "RP-100001" and slots["customer_verified"] is True
    assert responses(dispatcher) == ["utter_verified"]


async def test_two_details_in_one_message_verify_at_once(use_crm):
    tracker = make_tracker(text="hiya. order rp-100002 postcode 1012ab, its late again",
                           intent="nlu_fallback")
    dispatcher, events = await run_form(tracker)
    assert slot_events(events)["customer_verified"] is True


async def test_an_order_number_at_the_contact_question_replaces_the_number(use_crm):
    tracker = make_tracker(text="sorry wrong one, its RP-100002", intent="provide_order_number",
                           slots={"order_number": "RP-100001", "requested_slot": "order_contact"})
    dispatcher, events = await run_form(tracker)
    assert slot_events(events)["order_number"] == "RP-100002"


async def test_free_text_is_never_taken_as_an_order_number(use_crm):
    tracker = make_tracker(text="I don't have it, sorry", intent="deny",
                           slots={"requested_slot": "order_number"})
    dispatcher, events = await run_form(tracker)
    assert "order_number" not in slot_events(events)


async def test_a_verified_customer_cannot_see_someone_elses_order(use_crm):
    tracker = make_tracker(text="RP-100004", intent="provide_order_number",
                           slots={"customer_verified": True, "customer_id": "C-000000000001"},
                           trailing_slots={"order_number": "RP-100004"})
    dispatcher, events = await run_form(tracker)
    assert responses(dispatcher) == ["utter_order_not_on_account"]
    assert slot_events(events)["order_number"] is None


async def test_a_telegram_contact_share_of_the_right_phone_verifies(use_crm):
    tracker = make_tracker(text="+31612345678", intent="inform", channel="telegram", sender="77",
                           metadata={"telegram_contact_phone": "+31612345678",
                                     "telegram_chat_type": "private"},
                           slots={"order_number": "RP-100001", "requested_slot": "order_contact"},
                           trailing_slots={"order_contact": "+31612345678"})
    dispatcher, events = await run_form(tracker)
    assert slot_events(events)["customer_verified"] is True
    assert responses(dispatcher) == ["utter_verified"]


async def test_a_typed_or_wrong_phone_does_not_verify(use_crm):
    typed = make_tracker(text="+31612345678", intent="inform", channel="telegram", sender="78",
                         slots={"order_number": "RP-100001", "requested_slot": "order_contact"},
                         trailing_slots={"order_contact": "+31612345678"})
    dispatcher, _ = await run_form(typed)
    assert responses(dispatcher) == ["utter_contact_invalid"]  # not vouched for by Telegram
    wrong = make_tracker(text="+31699999999", intent="inform", channel="telegram", sender="79",
                         metadata={"telegram_contact_phone": "+31699999999"},
                         slots={"order_number": "RP-100001", "requested_slot": "order_contact"},
                         trailing_slots={"order_contact": "+31699999999"})
    dispatcher, _ = await run_form(wrong)
    assert responses(dispatcher) == ["utter_verify_failed"]


async def test_group_chats_get_no_verification_and_no_remembered_identity(use_crm):
    await use_crm.link_identity("telegram", "-100200", "C-000000000001")
    tracker = make_tracker(text="where is RP-100001", intent="ask_order_status",
                           channel="telegram", sender="-100200",
                           metadata={"telegram_chat_type": "supergroup"},
                           trailing_slots={"order_number": "RP-100001"})
    dispatcher, events = await run_form(tracker)
    slots = slot_events(events)
    assert responses(dispatcher) == ["utter_private_chat_only"]
    assert "customer_verified" not in slots and "customer_id" not in slots
    assert slots["requested_slot"] is None  # the form ends here


def contact_turn(contact: str, sender: str, channel: str = "webchat", **metadata):
    return make_tracker(text=contact, intent="provide_email", channel=channel, sender=sender,
                        metadata=metadata or None,
                        slots={"order_number": "RP-100001", "requested_slot": "order_contact"},
                        trailing_slots={"order_contact": contact})


async def test_the_breaker_pauses_verification_with_an_honest_answer(crm, brand, tmp_path):
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
                                  "RAPPORT_VERIFY_BREAKER_CONTACTS": "2"})
    services.use(services.Services(settings=settings, crm=crm, brand=brand, today=lambda: TODAY))
    try:
        for stranger, guess in (("s1", "eve@example.com"), ("s2", "mallory@example.com")):
            dispatcher, _ = await run_form(contact_turn(guess, stranger))
            assert responses(dispatcher) == ["utter_verify_failed"]
        dispatcher, events = await run_form(contact_turn("ada@example.com", "ada"))
        assert responses(dispatcher) == ["utter_verify_locked"]
        assert slot_events(events)["verification_locked"] is True
        assert "customer_verified" not in slot_events(events)
    finally:
        services.use(None)


async def test_a_lock_lasts_the_window_not_the_conversations_life(use_crm, seeded_crm_url):
    """Three typos lock a chat for the hour; a Telegram chat is one conversation for life, so
    a lock held in a slot for good would lock that customer out for good."""
    for _ in range(3):
        dispatcher, events = await run_form(contact_turn("ada@exmaple.com", "tg-7", "telegram"))
    assert responses(dispatcher) == ["utter_verify_locked"]
    locked = {"verification_locked": True, "requested_slot": None}

    def start_again():  # the customer asks again: the form starts with the lock still set
        return make_tracker(text="where is RP-100001", intent="ask_order_status",
                            channel="telegram", sender="tg-7", slots=locked,
                            trailing_slots={"order_number": "RP-100001"})

    dispatcher, events = await run_form(start_again())
    assert slot_events(events)["verification_locked"] is False  # the CRM's counts decide now
    assert slot_events(events)["order_number"] == "RP-100001"
    dispatcher, _ = await run_form(contact_turn("ada@example.com", "tg-7", "telegram"))
    assert responses(dispatcher) == ["utter_verify_locked"]  # within the hour: still locked

    engine = make_engine(seeded_crm_url)
    with engine.begin() as connection:  # an hour and a bit later
        connection.execute(text("UPDATE verification_attempts SET at = :at"),
                           {"at": naive_utcnow() - timedelta(minutes=61)})
    engine.dispose()
    await run_form(start_again())
    dispatcher, events = await run_form(contact_turn("ada@example.com", "tg-7", "telegram"))
    assert responses(dispatcher) == ["utter_verified"]
    assert slot_events(events)["customer_verified"] is True


async def test_failures_count_against_the_channels_client_not_the_sender_id(use_crm):
    """A channel's `rapport_client` (the web chat session's creator) survives new senders."""
    for sender in ("w1", "w2", "w3"):
        await run_form(contact_turn("eve@example.com", sender, rapport_client="creator-1"))
    dispatcher, events = await run_form(contact_turn("ada@example.com", "w4",
                                                     rapport_client="creator-1"))
    assert responses(dispatcher) == ["utter_verify_locked"]
    dispatcher, events = await run_form(contact_turn("ada@example.com", "w5",
                                                     rapport_client="creator-2"))
    assert responses(dispatcher) == ["utter_verified"]


@pytest.mark.parametrize("channel, sender, metadata, expected", [
    ("telegram", "tg-42", {"telegram_user_id": 42}, "telegram:42"),
    ("webchat", "wc-abc", {"rapport_client": "203.0.113.9"}, "webchat:203.0.113.9"),
    ("rest", "rest-shop-u1", {"rapport_client": "shop"}, "rest:shop/rest-shop-u1"),
    ("rest", "rest-u1", {}, "rest:rest-u1"),
])
def test_the_client_is_as_specific_as_the_channel_can_tell(channel, sender, metadata, expected):
    from actions.identity import client_of

    tracker = make_tracker(text="x", channel=channel, sender=sender, metadata=metadata or None)
    assert client_of(tracker) == expected


async def test_details_from_before_the_form_are_used_but_never_a_failed_contact_again(use_crm):
    history = [{"event": "user", "text": "Bonjour, où est RP-100001 ?", "parse_data": {}}]
    starting = make_tracker(text="ok in english then, my email is ada@example.com",
                            intent="provide_email", history=history)
    _, events = await run_form(starting)
    assert slot_events(events)["customer_verified"] is True  # the number came earlier
    failed_before = [{"event": "user", "text": "eve@example.com", "parse_data": {}},
                     {"event": "active_loop", "name": None}]
    restarted = make_tracker(text="where is RP-100001", intent="ask_order_status",
                             history=failed_before)
    dispatcher, events = await run_form(restarted)
    assert "order_contact" not in slot_events(events) and responses(dispatcher) == []
    mid_form = make_tracker(text="hmm let me look", intent="inform",
                            history=[{"event": "user", "text": "eve@example.com",
                                      "parse_data": {}}],
                            slots={"order_number": "RP-100001",
                                   "requested_slot": "order_contact"})
    _, events = await run_form(mid_form)
    assert slot_events(events).get("order_contact") != "eve@example.com"


async def test_the_forms_own_activation_does_not_hide_what_was_said_before(use_crm):
    history = [{"event": "user", "text": "is RP-100001 on its way", "parse_data": {}},
               {"event": "bot", "text": "Je suis désolé…"}]
    tracker = make_tracker(text="my email is ada@example.com", intent="provide_email",
                           history=history)
    tracker.events.append({"event": "active_loop", "name": "verify_form"})  # as Rasa logs it
    _, events = await run_form(tracker)
    assert slot_events(events)["customer_verified"] is True
