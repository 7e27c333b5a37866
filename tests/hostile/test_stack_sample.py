"""A sample of the hostile corpus over the real stack (`rapport run`: Rasa with the trained
model, the action server, the hub): REST and web chat. Each gets a clear answer or a 4xx,
never a 500 or a leaked trace, and the bot still answers afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.test_corpus import BODIES, LEAKS, TEXTS, materialise, raw_body
from tests.support.stack import REST_AUTH, Stack, http, stack_env, texts

pytestmark = pytest.mark.integration

SAMPLE_TEXTS = ["sql order number", "jinja expression", "html script", "slash external",
                "bidi override", "emoji 1000", "control characters", "one over the limit"]
SAMPLE_BODIES = ["invalid utf-8", "deep json 100000"]


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory):
    db_dir = tmp_path_factory.mktemp("hostile-stack")
    with Stack(stack_env(trained_model, db_dir), log_path=db_dir / "rapport-run.log") as stack:
        yield stack


def _clear(name: str, status: int, body, long: bool = False) -> None:
    assert status == (413 if long else 200) or (400 <= status < 500 and not long), (name, status)
    assert not any(leak in str(body) for leak in LEAKS), (name, body)
    if status >= 400:
        assert isinstance(body, dict) and body.get("error"), (name, body)


def test_a_sample_of_the_corpus_over_rest_and_web_chat(stack: Stack):
    entries = {entry["name"]: entry for entry in TEXTS + BODIES}
    webhook = f"{stack.rasa_url}/webhooks/rest/webhook"
    webchat = f"{stack.rasa_url}/webhooks/webchat"
    for n, name in enumerate(SAMPLE_TEXTS):
        entry = entries[name]
        status, body = http("POST", webhook, {"sender": f"hostile-{n}",
                                              "message": materialise(entry)}, headers=REST_AUTH)
        _clear(name, status, body, entry.get("long", False))
        if status == 200:
            assert texts(body) and all(texts(body)), (name, body)
        status, session = http("POST", f"{webchat}/session")
        assert status == 201, session
        status, body = http("POST", f"{webchat}/message", {"message": materialise(entry)},
                            headers={"Authorization": f"Bearer {session['token']}"})
        _clear(name, status, body, entry.get("long", False))
        if status == 200:
            assert any(m["role"] == "bot" for m in body["messages"]), (name, body)
    for name in SAMPLE_BODIES:
        status, body = http("POST", webhook, raw=raw_body(entries[name]), headers=REST_AUTH)
        _clear(name, status, body)
        assert 400 <= status < 500
    assert "Ollie" in " ".join(texts(stack.say("hostile-after", "hi")))
    assert "Traceback" not in stack.log()
