"""No secret in any log line: redaction at the logging layer of every Rapport process.

python-telegram-bot's HTTP client (httpx) logs each request URL at INFO, and a Bot API URL
holds the bot token (`https://api.telegram.org/bot<token>/sendMessage`); an exception's text
can hold a URL too. `install(settings)` makes every log record of the process redacted when
it is created (a log record factory, so handlers added later, like Rasa's log file, are
covered), and wraps stdout/stderr, which the supervisor writes to `var/logs/*.log`, for
whatever is printed outside logging (an uncaught traceback).

Redacted: every setting marked secret (`repr=False` in `bot.settings.Settings`, e.g. the
Telegram token and webhook secret, the JWT, CRM and action-server secrets) and the password
in every database or service URL setting, in plain and URL-encoded form, and anything
shaped like a Telegram bot token.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import sys
import traceback
from collections.abc import Mapping
from typing import Any, Iterable, Optional
from urllib.parse import quote, unquote, urlsplit

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 6  # shorter values would blank out ordinary words
_TELEGRAM_TOKEN = re.compile(r"(?<![0-9])[0-9]{5,16}:[A-Za-z0-9_-]{30,}")


def secrets_of(settings: Any) -> list[str]:
    """The values of the settings marked secret (`field(repr=False)`), and the passwords in
    every `*_url` setting (`postgresql://rapport:<password>@db/crm`)."""
    found: list[str] = []
    for item in dataclasses.fields(settings):
        url = getattr(settings, item.name, None) if item.name.endswith("_url") else None
        if isinstance(url, str) and "@" in url:
            try:
                password = urlsplit(url).password
            except ValueError:  # not a URL after all
                password = None
            found += [password, unquote(password)] if password else []
        if item.repr:
            continue
        value = getattr(settings, item.name, None)
        if isinstance(value, Mapping):
            values = list(value.values())
        elif isinstance(value, (tuple, list)):  # (name, secret) pairs, or a list of secrets
            values = [v[-1] if isinstance(v, (tuple, list)) and v else v for v in value]
        else:
            values = [value]
        found += [v for v in values if isinstance(v, str)]
    return found


class Redactor:
    """Replaces known secrets and Telegram-token-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_CHARS:
                variants |= {secret, quote(secret, safe=""), quote(secret)}
        # Longest first, so a secret containing another is replaced whole.
        alternatives = sorted(variants, key=len, reverse=True)
        self._pattern = (re.compile("|".join(map(re.escape, alternatives)))
                         if alternatives else None)

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return _TELEGRAM_TOKEN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """A handler filter: the record's message, exception and stack text, redacted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("rapport.redaction")
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.redactor)
        return True


def redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Format the record's message now and keep only its redacted text."""
    if getattr(record, "_rapport_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 (a bad format string: logging reports it later anyway)
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = redactor(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redactor(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor(record.stack_info)
    record._rapport_redacted = True


class RedactingStream(io.TextIOBase):
    """A text stream that redacts what is written, then passes it on."""

    def __init__(self, stream: Any, redactor: Redactor) -> None:
        super().__init__()
        self._stream = stream
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._stream.write(self._redactor(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_installed: Optional[Redactor] = None
_original_factory = logging.getLogRecordFactory()


def install(settings: Any, extra: Iterable[str] = ()) -> Redactor:
    """Redact this process's logs from now on (again with new settings: the latest wins)."""
    global _installed
    redactor = Redactor([*secrets_of(settings), *extra])
    first = _installed is None
    _installed = redactor

    if first:
        def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = _original_factory(*args, **kwargs)
            if _installed is not None:
                redact_record(record, _installed)
            return record

        logging.setLogRecordFactory(make_record)
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, RedactingStream):
                setattr(sys, name, RedactingStream(stream, _Current()))
    for handler in logging.getLogger().handlers:  # records made before: filtered on the way out
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(_Current()))
    return redactor


class _Current(Redactor):
    """The redactor `install` set last (so a stream wrapped once follows new settings)."""

    def __call__(self, text: str) -> str:
        return _installed(text) if _installed is not None else text
