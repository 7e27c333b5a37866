"""A request whose body is too big, sent the way to see the server refuse it unread.

A server that refuses a body by its Content-Length answers (413) and closes before the body
arrives; a client still writing it then fails on a closed socket ("Connection lost", "Broken
pipe") instead of reading the answer, more often the busier the machine. So: send the
headers, read the answer, never send the body. An answer at all proves the body was refused
without being read.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Optional
from urllib.parse import urlsplit

HANG_GUARD_S = 30  # only turns a hang into a failure


def answer_before_body(url: str, size: int,
                       headers: Optional[dict[str, str]] = None) -> tuple[int, Any]:
    """(status, JSON body or text) of a POST to `url` announcing `size` bytes and sending none."""
    parts = urlsplit(url)
    lines = [f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
             f"Host: {parts.hostname}", "Content-Type: application/json",
             f"Content-Length: {size}", "Connection: close",
             *(f"{name}: {value}" for name, value in (headers or {}).items())]
    with socket.create_connection((parts.hostname, parts.port or 80),
                                  timeout=HANG_GUARD_S) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")
