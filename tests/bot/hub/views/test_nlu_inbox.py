"""The NLU inbox page on the real hub: analysts label and retrain, agents may not, CSRF holds.

The hub runs on a copy of the project (labelling writes its data/nlu and domain.yml, then
runs the real `rapport validate`), with exchange-log turns in its real SQLite database.
"""

from __future__ import annotations

import fcntl
import re
from pathlib import Path

import pytest
import yaml

from bot.hub import keys
from bot.hub.views import nlu_inbox
from bot.insight.retrain import LOCK_FILE
from bot.settings import Settings
from tests.bot.hub.conftest import JWT_SECRET
from tests.bot.insight.nlu_project import add_turns, project_copy, snapshot

GIFT_WRAP = [("can you gift wrap my order", "nlu_fallback", 0.31),
             ("can you giftwrap it please", "faq/order_changes", 0.44),
             ("do you gift wrap?", "nlu_fallback", 0.2)]


@pytest.fixture
def hub_settings(tmp_path: Path, seeded_crm_url: str, rasa_port: int) -> Settings:
    """The hub's test settings (tests/bot/hub/conftest.py), on a copy of the project."""
    return Settings.from_env({
        "RAPPORT_HOME": str(project_copy(tmp_path / "project")),
        "RAPPORT_VAR_DIR": str(tmp_path / "var"),
        "RAPPORT_HUB_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "RAPPORT_EVENTS_DB": str(tmp_path / "events.db"), "RAPPORT_CRM_URL": seeded_crm_url,
        "RAPPORT_RASA_PORT": str(rasa_port), "RAPPORT_RASA_JWT_SECRET": JWT_SECRET,
        "RAPPORT_HUB_SECRET": "test-hub-secret",
    })


@pytest.fixture
def turn_ids(hub) -> list[int]:
    return add_turns(hub.server.app[nlu_inbox.INBOX].engine,
                     GIFT_WRAP + [("hello", "greet", 0.97)])


def _form(csrf: str, turn_ids: list[int], **fields: str) -> list[tuple[str, str]]:
    return ([("csrf_token", csrf)] + [("turn_id", str(turn_id)) for turn_id in turn_ids]
            + list(fields.items()))


async def test_an_analyst_labels_a_group_with_a_new_intent(hub, console, turn_ids,
                                                           hub_settings):
    ana = await console("ana", role="analyst")
    page = await ana.client.get("/console/inbox")
    html = await page.text()
    assert page.status == 200
    group = re.search(r'id="group-(\d+)"', html)
    assert group and int(group.group(1)) == turn_ids[0]
    for text, _, _ in GIFT_WRAP:
        assert text.replace("?", "") in html
    assert f"#{turn_ids[0]} " in html and f"#{turn_ids[3]} " not in html  # understood: not here

    answer = await ana.client.post("/console/inbox/label", data=_form(
        ana.csrf, turn_ids[:3], intent="ask_gift_wrap"), headers={"Accept": "application/json"})

    body = await answer.json()
    assert answer.status == 200, body
    assert body["labelled"] == turn_ids[:3]
    assert body["added"] == [text for text, _, _ in GIFT_WRAP]
    home = hub_settings.home
    written = yaml.safe_load((home / "data" / "nlu" / "ask_gift_wrap.yml").read_text())
    assert written["nlu"][0]["intent"] == "ask_gift_wrap"
    assert "ask_gift_wrap" in yaml.safe_load((home / "domain.yml").read_text())["intents"]
    after = await (await ana.client.get("/console/inbox")).text()
    assert 'id="group-' not in after and "The inbox is empty" in after
    [entry] = [e for e in await hub.server.app[keys.AUDIT].entries() if e.agent_name == "ana"]
    assert (entry.action, entry.detail) == (nlu_inbox.LABELLED, "intent=ask_gift_wrap "
                                                                "messages=3 examples=3")


async def test_a_plain_form_label_comes_back_to_the_page_with_what_happened(hub, console,
                                                                           turn_ids):
    ana = await console("ana", role="analyst")
    answer = await ana.client.post("/console/inbox/label", data=_form(
        ana.csrf, turn_ids[:1], intent="ask_gift_wrap"), allow_redirects=False)
    assert answer.status == 303
    location = answer.headers["Location"]
    assert location.startswith("/console/inbox?done=labelled&n=1&intent=ask_gift_wrap")
    page = await (await ana.client.get(location)).text()
    assert "Labelled 1 message(s) ask_gift_wrap: 1 new training example(s), validated." in page


async def test_a_label_that_cannot_be_learned_is_a_clear_400(hub, console, turn_ids,
                                                             hub_settings):
    ana = await console("ana", role="analyst")
    before = snapshot(hub_settings.home)
    answer = await ana.client.post("/console/inbox/label", data=_form(
        ana.csrf, turn_ids[:3], intent="faq"), headers={"Accept": "application/json"})
    assert answer.status == 400
    assert "retrieval intent" in (await answer.json())["error"]
    assert snapshot(hub_settings.home) == before


async def test_an_agent_may_not_see_or_change_the_inbox(hub, console, turn_ids, hub_settings):
    sam = await console("sam")
    before = snapshot(hub_settings.home)
    assert (await sam.client.get("/console/inbox")).status == 403
    assert (await sam.client.get("/api/console/inbox/retrain")).status == 403
    for path, fields in (("/console/inbox/label", {"intent": "ask_gift_wrap"}),
                         ("/console/inbox/dismiss", {}), ("/console/inbox/retrain", {})):
        answer = await sam.client.post(path, data=_form(sam.csrf, turn_ids[:3], **fields),
                                       headers={"Accept": "application/json"})
        assert answer.status == 403, path
    assert snapshot(hub_settings.home) == before
    assert len(await hub.server.app[nlu_inbox.INBOX].pending()) == 3


async def test_a_post_without_the_sessions_csrf_token_changes_nothing(hub, console, turn_ids,
                                                                     hub_settings):
    ana = await console("ana", role="analyst")
    before = snapshot(hub_settings.home)
    for token in ("", "forged-" + ana.csrf[:8]):
        for path in ("/console/inbox/label", "/console/inbox/dismiss", "/console/inbox/retrain"):
            answer = await ana.client.post(path, data=_form(token, turn_ids[:3],
                                                            intent="ask_gift_wrap"))
            assert answer.status == 403, (path, token)
    assert snapshot(hub_settings.home) == before
    assert len(await hub.server.app[nlu_inbox.INBOX].pending()) == 3
    assert hub.server.app[nlu_inbox.RETRAIN].progress.state == "idle"  # never started


async def test_dismissed_messages_leave_the_inbox(hub, console, turn_ids):
    ana = await console("ana", role="analyst")
    answer = await ana.client.post("/console/inbox/dismiss", data=_form(ana.csrf, turn_ids[:2]),
                                   headers={"Accept": "application/json"})
    assert answer.status == 200 and (await answer.json())["dismissed"] == turn_ids[:2]
    pending = await hub.server.app[nlu_inbox.INBOX].pending()
    assert [m.turn_id for m in pending] == [turn_ids[2]]


async def test_a_message_id_too_large_to_be_one_is_a_400(hub, console, turn_ids):
    ana = await console("ana", role="analyst")
    for path, fields in (("/console/inbox/dismiss", {}),
                         ("/console/inbox/label", {"intent": "greet"})):
        answer = await ana.client.post(path, data=_form(ana.csrf, [10**30], **fields))
        assert answer.status == 400, path
        assert "not a message id" in await answer.text()
    assert len(await hub.server.app[nlu_inbox.INBOX].pending()) == 3


async def test_dismissing_a_message_not_in_the_inbox_changes_nothing(hub, console, turn_ids):
    ana = await console("ana", role="analyst")
    understood, not_yet = turn_ids[3], turn_ids[3] + 100
    answer = await ana.client.post("/console/inbox/dismiss",
                                   data=_form(ana.csrf, [understood, not_yet]),
                                   headers={"Accept": "application/json"})
    assert answer.status == 200 and (await answer.json())["dismissed"] == []
    answer = await ana.client.post("/console/inbox/dismiss",
                                   data=_form(ana.csrf, [turn_ids[0], not_yet]),
                                   headers={"Accept": "application/json"})
    assert (await answer.json())["dismissed"] == [turn_ids[0]]


async def test_a_retrain_reports_its_progress_and_why_it_failed(hub, console, hub_settings):
    ana = await console("ana", role="analyst")
    rules = hub_settings.home / "data" / "rules" / "basics.yml"
    rules.write_text(rules.read_text() + "\n  - rule: broken on purpose\n    steps:\n"
                     "      - intent: greet\n      - action: action_that_does_not_exist\n")

    answer = await ana.client.post("/console/inbox/retrain", data={"csrf_token": ana.csrf},
                                   headers={"Accept": "application/json"})
    assert answer.status == 200
    assert (await answer.json())["progress"]["state"] == "queued"
    progress = await hub.server.app[nlu_inbox.RETRAIN].wait()

    assert progress.state == "failed"
    state = await (await ana.client.get("/api/console/inbox/retrain")).json()
    assert state["state"] == "failed" and state["active"] is False
    assert "action_that_does_not_exist" in state["message"]
    page = await ana.client.get("/console/inbox")
    assert "Refresh" not in page.headers
    assert "action_that_does_not_exist" in await page.text()


async def test_a_retrain_while_another_runs_is_a_409(hub, console, hub_settings):
    ana = await console("ana", role="analyst")
    lock = hub_settings.var_dir / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("ab") as held:  # as a retraining started by `rapport inbox label` would
        fcntl.flock(held, fcntl.LOCK_EX)
        answer = await ana.client.post("/console/inbox/retrain", data={"csrf_token": ana.csrf},
                                       headers={"Accept": "application/json"})
        page = await ana.client.post("/console/inbox/retrain", data={"csrf_token": ana.csrf})
    assert answer.status == 409
    assert "already running" in (await answer.json())["error"]
    assert page.status == 409 and "Already retraining" in await page.text()


async def test_label_then_retrain_says_when_a_retraining_is_already_running(hub, console,
                                                                          turn_ids,
                                                                          hub_settings):
    ana = await console("ana", role="analyst")
    lock = hub_settings.var_dir / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        answer = await ana.client.post("/console/inbox/label", data=_form(
            ana.csrf, turn_ids[:3], intent="ask_gift_wrap", retrain="1"), allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"].endswith("&retrain=busy")
    page = await (await ana.client.get(answer.headers["Location"])).text()
    assert "Labelled 3 message(s) ask_gift_wrap: 3 new training example(s)" in page
    assert "A retraining was already running, so none was started" in page
    assert hub.server.app[nlu_inbox.RETRAIN].progress.state == "idle"
