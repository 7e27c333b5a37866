"""bot.ops.terminal_chat: `rapport chat` prints the bot's replies and numbers its buttons.

`send` and `chat` talk to a small REST webhook served on this machine by the test.
"""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from bot.ops.terminal_chat import chat, format_replies, send

TOKEN = "s3cret"
BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def test_format_replies_prints_texts_images_and_numbered_buttons() -> None:
    replies = [
        {"recipient_id": "t", "text": "Hi! Is this about order RP-100001?", "buttons": BUTTONS},
        {"recipient_id": "t", "image": "https://example.com/oak-table.jpg"},
        {"recipient_id": "t", "text": "Or pick another:",
         "buttons": [{"title": "Something else", "payload": "/other"}]},
    ]
    lines, buttons = format_replies(replies)
    assert lines == [
        "bot> Hi! Is this about order RP-100001?",
        "     [1] Yes",
        "     [2] No",
        "bot> [image] https://example.com/oak-table.jpg",
        "bot> Or pick another:",
        "     [3] Something else",
    ]
    assert buttons == [*BUTTONS, {"title": "Something else", "payload": "/other"}]


def test_format_replies_of_nothing() -> None:
    assert format_replies([]) == ([], [])
    assert format_replies([{"recipient_id": "t", "text": "", "buttons": None}]) == ([], [])


class _Webhook(BaseHTTPRequestHandler):
    """Rasa's REST webhook, as far as `rapport chat` sees it: echoes, with buttons on "hi"."""

    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.headers["Authorization"], body))
        if self.headers["Authorization"] != f"Bearer {TOKEN}":
            self.send_error(401, "Unauthorized")
            return
        if body["message"] == "silence":
            replies: list[dict[str, Any]] = []
        elif body["message"] == "hi":
            replies = [{"recipient_id": body["sender"], "text": "Shall I?", "buttons": BUTTONS}]
        else:
            replies = [{"recipient_id": body["sender"], "text": f"you said {body['message']}"}]
        payload = json.dumps(replies).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        return None


@pytest.fixture
def rasa_url() -> Iterator[str]:
    _Webhook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_send_posts_the_message_with_the_integrations_token(rasa_url: str) -> None:
    assert send(rasa_url, "terminal-1", "hello", TOKEN) == [
        {"recipient_id": "terminal-1", "text": "you said hello"}]
    assert _Webhook.received == [(f"Bearer {TOKEN}",
                                  {"sender": "terminal-1", "message": "hello"})]


def test_chat_sends_a_buttons_payload_for_its_number(
        rasa_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hi\n2\nsilence\n3\n"))
    assert chat(rasa_url, "ada", token=TOKEN) == 0
    assert [body["message"] for _, body in _Webhook.received] == ["hi", "/deny", "silence", "3"]
    assert {body["sender"] for _, body in _Webhook.received} == {"ada"}
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == [
        "you> bot> Shall I?", "     [1] Yes", "     [2] No",
        "you> bot> you said /deny",
        "you> bot> (no reply)",
        "you> bot> you said 3",  # the buttons offered last time are gone
        "you> ",
    ]
    assert out.startswith(f"Talking to {rasa_url} as ada.")


def test_chat_names_a_rejected_token(rasa_url: str, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    assert chat(rasa_url, "ada", token="wrong") == 2
    assert ("rapport: error: the bot answered 401 (Unauthorized); is this integration's token "
            "in the bot's RAPPORT_REST_TOKENS?") in capsys.readouterr().out


def test_chat_says_when_the_bot_is_not_running(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    closed_url = f"http://127.0.0.1:{server.server_address[1]}"
    server.server_close()  # nothing listens there now
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    assert chat(closed_url, token=TOKEN) == 2
    out = capsys.readouterr().out
    assert f"rapport: error: cannot reach the bot at {closed_url}" in out
    assert out.rstrip().endswith("is `rapport run` running?")
    assert " as terminal-" in out.splitlines()[0]
