"""The action server as `rapport run` starts it: a real process on loopback.

Only requests with the shared secret are answered, the secret is checked before the body is
read, and no response carries CORS headers.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Iterator, Optional

import pytest

from bot.ops.action_server import ACTIONS_SECRET_HEADER
from tests.support import PROJECT
from tests.support.service_process import serving
from tests.support.stack import free_port

SECRET = "actions-secret-for-tests"
STARTUP_LIMIT = 120  # seconds: importing rasa-sdk and the actions on a busy 2-core machine
HANG_GUARD = 60  # seconds: only to turn a hang into a failure, never a speed requirement
MAX_BODY = 1024 * 1024


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("actions-var")
    port = free_port()
    env = {"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(var),
           "RAPPORT_ACTIONS_PORT": str(port), "RAPPORT_ACTIONS_SECRET": SECRET,
           "RAPPORT_CRM_URL": f"sqlite:///{var / 'crm.db'}",
           "RAPPORT_ACTIONS_MAX_BODY_BYTES": str(MAX_BODY)}
    url = f"http://127.0.0.1:{port}"
    with serving(["actions"], env, var / "actions.log", f"{url}/health", STARTUP_LIMIT):
        yield url


def request(url: str, method: str = "GET", *, body: Optional[bytes] = None,
            headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], bytes]:
    call = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=HANG_GUARD) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_request_without_the_secret_is_refused_before_its_body_is_read(action_server):
    port = int(action_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) as connection:
        # Announce 10 MB, send none of it: an answer can only come before the body is read.
        connection.sendall(b"POST /webhook HTTP/1.1\r\nHost: localhost\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


@pytest.mark.parametrize("headers", [{}, {ACTIONS_SECRET_HEADER: "wrong"},
                                     {ACTIONS_SECRET_HEADER: SECRET + "x"}])
def test_without_the_right_secret_nothing_runs(action_server, headers):
    call = json.dumps({"next_action": "action_submit_complaint", "sender_id": "x",
                       "tracker": {"sender_id": "x", "slots": {}, "events": []},
                       "domain": {}, "version": "3.6.2"}).encode()
    status, _, body = request(f"{action_server}/webhook", "POST", body=call,
                              headers={"Content-Type": "application/json", **headers})
    assert status == 401
    assert json.loads(body) == {"error": "unauthorised"}
    assert request(f"{action_server}/actions", headers=headers)[0] == 401


def test_with_the_secret_rasa_is_answered(action_server):
    status, _, body = request(f"{action_server}/actions", headers={ACTIONS_SECRET_HEADER: SECRET})
    assert status == 200
    assert {"name": "validate_verify_form"} in json.loads(body)
    call = json.dumps({"next_action": "action_no_such_thing", "sender_id": "x",
                       "tracker": {"sender_id": "x", "slots": {}, "events": []},
                       "domain": {}, "version": "3.6.2"}).encode()
    status, _, body = request(f"{action_server}/webhook", "POST", body=call, headers={
        ACTIONS_SECRET_HEADER: SECRET, "Content-Type": "application/json"})
    assert status == 404 and json.loads(body)["action_name"] == "action_no_such_thing"


def test_no_response_allows_another_origin(action_server):
    origin = {"Origin": "http://evil.example"}
    answers = [
        request(f"{action_server}/actions", headers={**origin, ACTIONS_SECRET_HEADER: SECRET}),
        request(f"{action_server}/actions", headers=origin),
        request(f"{action_server}/health", headers=origin),
        request(f"{action_server}/webhook", "OPTIONS", headers={
            **origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"}),
    ]
    for status, headers, _ in answers:
        assert not any(name.lower().startswith("access-control-") for name in headers), \
            (status, headers)


def test_the_secret_is_required_to_start(tmp_path):
    from bot.ops.action_server import create_action_app
    from bot.settings import Settings, SettingsError

    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match="RAPPORT_ACTIONS_SECRET"):
        create_action_app(settings)


async def test_rasa_sends_the_secret_endpoints_yml_reads_from_the_environment(
        action_server, monkeypatch, tmp_path):
    from rasa.utils.endpoints import ClientResponseError

    from bot.ops.rasa_server import load_endpoints
    from bot.settings import Settings

    monkeypatch.setenv("RAPPORT_ACTIONS_SECRET", SECRET)
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
                                  "RAPPORT_ACTIONS_PORT": action_server.rsplit(":", 1)[1]})
    action = load_endpoints(settings).action
    call = {"next_action": "action_no_such_thing", "sender_id": "x", "version": "3.6.2",
            "tracker": {"sender_id": "x", "slots": {}, "events": []}, "domain": {}}
    with pytest.raises(ClientResponseError) as answer:
        await action.request(json=call, method="post")
    assert answer.value.status == 404  # past the secret check: the action is unknown


def _call(action: str = "action_no_such_thing", pad: int = 0) -> bytes:
    return json.dumps({"next_action": action, "sender_id": "x", "version": "3.6.2",
                       "tracker": {"sender_id": "x", "slots": {}, "events": [],
                                   "pad": " " * pad},
                       "domain": {}}).encode()


def _post(url: str, body: bytes, **headers: str) -> tuple[int, dict]:
    status, _, answer = request(f"{url}/webhook", "POST", body=body, headers={
        ACTIONS_SECRET_HEADER: SECRET, "Content-Type": "application/json", **headers})
    return status, json.loads(answer)


def test_a_deflate_bomb_is_refused_without_inflating_it(action_server):
    """Issue 10, finding 9: rasa-sdk inflates a deflate body with no limit; 100 KB of zeros
    inflating a thousandfold (100 MB) gets a 413, and the server still answers."""
    import zlib

    bomb = zlib.compress(_call(pad=100 * 1024 * 1024), 9)
    assert len(bomb) < 200 * 1024
    assert _post(action_server, bomb, **{"Content-Encoding": "deflate"}) == (
        413, {"error": "the request is too large"})
    assert _post(action_server, zlib.compress(_call()), **{"Content-Encoding": "deflate"})[0] \
        == 404  # a sane deflate body still reaches rasa-sdk (the action is unknown)
    for broken in (b"not deflate at all", zlib.compress(b"{not json")):
        status, body = _post(action_server, broken, **{"Content-Encoding": "deflate"})
        assert status == 400 and "Traceback" not in json.dumps(body)


def test_a_body_over_the_limit_is_refused(action_server):
    from tests.support.oversized import answer_before_body

    status, _ = answer_before_body(f"{action_server}/webhook", 2 * MAX_BODY,
                                   {ACTIONS_SECRET_HEADER: SECRET})
    assert status == 413
    assert _post(action_server, _call(pad=MAX_BODY // 2))[0] == 404
