"""`rapport chat`: a terminal conversation with the running bot over its REST channel."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Optional


def send(rasa_url: str, sender: str, message: str, token: str,
         timeout: float = 60.0) -> list[dict]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        f"{rasa_url}/webhooks/rest/webhook", data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
        return json.loads(response.read().decode() or "[]")


def format_replies(replies: list[dict]) -> tuple[list[str], list[dict]]:
    """Lines to print and the buttons on offer (numbered from 1)."""
    lines, buttons = [], []
    for reply in replies:
        if reply.get("text"):
            lines.append(f"bot> {reply['text']}")
        if reply.get("image"):
            lines.append(f"bot> [image] {reply['image']}")
        for button in reply.get("buttons") or []:
            buttons.append(button)
            lines.append(f"     [{len(buttons)}] {button.get('title')}")
    return lines, buttons


def chat(rasa_url: str, sender: Optional[str] = None, *, token: str) -> int:
    """Talk as `sender` of the REST integration whose bearer `token` this is."""
    sender = sender or f"terminal-{uuid.uuid4().hex[:8]}"
    print(f"Talking to {rasa_url} as {sender}. Type a message; a number picks a button; "
          "Ctrl-D quits.")
    buttons: list[dict] = []
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            replies = send(rasa_url, sender, text, token)
        except urllib.error.HTTPError as error:
            print(f"rapport: error: the bot answered {error.code} ({error.reason}); "
                  + ("is this integration's token in the bot's RAPPORT_REST_TOKENS?"
                     if error.code == 401 else "see its log in var/logs/"))
            return 2
        except (urllib.error.URLError, OSError) as error:
            print(f"rapport: error: cannot reach the bot at {rasa_url} ({error}); is `rapport run` running?")
            return 2
        lines, buttons = format_replies(replies)
        print("\n".join(lines) if lines else "bot> (no reply)")
