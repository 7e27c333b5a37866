"""The conversation set's files (tests/conversations/<author>/<id>.yml): read and checked strictly.

The format is in tests/conversations/README.md. A file with an unknown key, kind, channel or
value is refused with a `ConversationFileError` naming the file and the key, so a typo can
never make a check silently disappear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from bot.errors import ContentError
from tests.support import PROJECT

CONVERSATIONS = PROJECT / "tests" / "conversations"
AUTHORS = ("blind", "team")
CHANNELS = ("rest", "webchat", "telegram")
KINDS = (
    "loop_exit", "form_retrigger", "context_reply", "misrouted_opener", "sticky_signals",
    "email_only_lookup", "long_message", "other_language", "description_used",
    "two_slots_one_message", "process_question", "safety", "rating_words", "callback_time",
    "two_needs", "correction", "cancel", "chitchat", "clarification", "repeat",
    "human_handoff", "happy_order_status", "happy_complaint", "happy_faq",
)
ASKS_FOR = ("order_number", "contact", "issue", "description", "rating", "remedy_answer",
            "nothing")
PRIORITIES = ("low", "normal", "high", "urgent")
SEVERITIES = ("low", "medium", "high", "critical")
ISSUES = ("late_delivery", "damaged", "wrong_item", "missing_item", "defective", "other")
LANGUAGES = ("en", "fr", "de", "es", "it", "nl", "pt", "pl")

TOP_KEYS = {"id", "title", "kinds", "channels", "xfail", "turns", "final"}
TURN_KEYS = {"say", "expect"}
FRAGMENT_KEYS = ("replies_any", "replies_all", "replies_none")
EXPECT_KEYS = {*FRAGMENT_KEYS, "asks_for", "verified", "handoff", "offers_person", "language",
               "http_status"}
INTERNAL_KEYS = {"responses", "actions", "slots", "active_loop"}  # team-written files only
FINAL_KEYS = {"verified", "handoff", "handoff_priority", "case", "case_issue",
              "case_severity_at_least", "csat", "callback_time_recorded"}


class ConversationFileError(ContentError):
    """A conversation file does not follow the format; the message names the file."""


@dataclass(frozen=True)
class Turn:
    say: str
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    author: str
    kinds: tuple[str, ...]
    channels: tuple[str, ...]
    turns: tuple[Turn, ...]
    final: dict[str, Any]
    path: Path
    xfail: Optional[str] = None


def load_set(root: Path = CONVERSATIONS) -> list[Conversation]:
    """Every conversation under `root`/<author>/, sorted by author then id; ids are unique."""
    conversations: list[Conversation] = []
    seen: dict[str, Path] = {}
    for author in AUTHORS:
        for path in sorted((root / author).glob("*.yml")):
            conversation = load_file(path)
            if conversation.id in seen:
                raise ConversationFileError(
                    f"{path}: id {conversation.id!r} is already used by {seen[conversation.id]}")
            seen[conversation.id] = path
            conversations.append(conversation)
    stray = sorted(p for p in root.rglob("*.yml") if p.parent.name not in AUTHORS
                   and p.parent != root)
    if stray:
        raise ConversationFileError(f"{stray[0]}: conversations live in one of "
                                    f"{', '.join(f'{root}/{a}/' for a in AUTHORS)}")
    return conversations


def load_file(path: Path) -> Conversation:
    """One conversation file, checked against the format."""
    author = path.parent.name
    if author not in AUTHORS:
        raise ConversationFileError(f"{path}: the folder must be one of {', '.join(AUTHORS)}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConversationFileError(f"{path}: not valid YAML: {error}") from error
    return parse(data, path, author)


def parse(data: Any, path: Path, author: str) -> Conversation:
    """Check `data` (a file's YAML) and build the conversation; `path` names it in errors."""
    where = str(path)
    mapping = _mapping(data, where, "the file")
    _known_keys(mapping, TOP_KEYS, where, "top level")
    for required in ("id", "title", "kinds", "turns"):
        if required not in mapping:
            raise ConversationFileError(f"{where}: {required} is missing")
    conversation_id = _text(mapping["id"], where, "id")
    if conversation_id != path.stem:
        raise ConversationFileError(f"{where}: id {conversation_id!r} must equal the file "
                                    f"name without .yml ({path.stem!r})")
    kinds = _choices(mapping["kinds"], KINDS, where, "kinds")
    channels = _choices(mapping.get("channels", ["rest"]), CHANNELS, where, "channels")
    turns_data = mapping["turns"]
    if not isinstance(turns_data, list) or not turns_data:
        raise ConversationFileError(f"{where}: turns must be a non-empty list")
    turns = tuple(_turn(item, f"{where}: turn {number}", author)
                  for number, item in enumerate(turns_data, start=1))
    final = _final(mapping.get("final"), f"{where}: final")
    xfail = mapping.get("xfail")
    if xfail is not None:
        xfail = _text(xfail, where, "xfail")
    return Conversation(id=conversation_id, title=_text(mapping["title"], where, "title"),
                        author=author, kinds=kinds, channels=channels, turns=turns, final=final,
                        path=path, xfail=xfail)


def _turn(data: Any, where: str, author: str) -> Turn:
    mapping = _mapping(data, where, "a turn")
    _known_keys(mapping, TURN_KEYS, where, "turn")
    if "say" not in mapping:
        raise ConversationFileError(f"{where}: say is missing")
    say = mapping["say"]
    if not isinstance(say, str) or not say.strip():
        raise ConversationFileError(f"{where}: say must be a non-empty string")
    expect = _mapping(mapping.get("expect") or {}, where, "expect")
    allowed = EXPECT_KEYS | (INTERNAL_KEYS if author == "team" else set())
    internal = sorted(set(expect) & (INTERNAL_KEYS - allowed))
    if internal:
        raise ConversationFileError(f"{where}: expect.{internal[0]} names the bot's internals, "
                                    "which only team-written conversations may use")
    _known_keys(expect, allowed, where, "expect")
    for key in FRAGMENT_KEYS:
        if key in expect:
            expect[key] = _fragments(expect[key], where, key)
    if "asks_for" in expect:
        _one_of(expect["asks_for"], ASKS_FOR, where, "asks_for")
    for key in ("verified", "handoff", "offers_person"):
        if key in expect:
            _bool(expect[key], where, key)
    if "language" in expect:
        _one_of(expect["language"], LANGUAGES, where, "language")
    if "http_status" in expect:
        status = expect["http_status"]
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ConversationFileError(f"{where}: http_status must be an HTTP error status "
                                        f"(400-599), got {status!r}")
    for key in ("responses", "actions"):
        if key in expect:
            expect[key] = _fragments(expect[key], where, key)
    if "slots" in expect:
        slots = _mapping(expect["slots"], where, "expect.slots")
        for name in slots:
            if not isinstance(name, str):
                raise ConversationFileError(f"{where}: expect.slots has a key that is not a name")
    if "active_loop" in expect and expect["active_loop"] is not None:
        _text(expect["active_loop"], where, "active_loop")
    return Turn(say=say, expect=expect)


def _final(data: Any, where: str) -> dict[str, Any]:
    if data is None:
        return {}
    final = _mapping(data, where, "final")
    _known_keys(final, FINAL_KEYS, where, "final")
    for key in ("verified", "handoff", "case", "callback_time_recorded"):
        if key in final:
            _bool(final[key], where, key)
    if "handoff_priority" in final:
        _one_of(final["handoff_priority"], PRIORITIES, where, "handoff_priority")
    if "case_issue" in final:
        _one_of(final["case_issue"], ISSUES, where, "case_issue")
    if "case_severity_at_least" in final:
        _one_of(final["case_severity_at_least"], SEVERITIES, where, "case_severity_at_least")
    if "csat" in final:
        csat = final["csat"]
        if not isinstance(csat, int) or isinstance(csat, bool) or not 1 <= csat <= 5:
            raise ConversationFileError(f"{where}: csat must be a whole number 1-5, got {csat!r}")
    return final


def _mapping(data: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConversationFileError(f"{where}: {what} must be a mapping, got "
                                    f"{type(data).__name__}")
    return dict(data)


def _known_keys(mapping: dict[str, Any], allowed: set[str], where: str, what: str) -> None:
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if unknown:
        raise ConversationFileError(f"{where}: unknown {what} key {unknown[0]!r} (allowed: "
                                    f"{', '.join(sorted(allowed))})")


def _text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConversationFileError(f"{where}: {key} must be a non-empty string")
    return value


def _bool(value: Any, where: str, key: str) -> None:
    if not isinstance(value, bool):
        raise ConversationFileError(f"{where}: {key} must be true or false, got {value!r}")


def _one_of(value: Any, allowed: tuple[str, ...], where: str, key: str) -> None:
    if value not in allowed:
        raise ConversationFileError(f"{where}: {key} {value!r} is not one of "
                                    f"{', '.join(allowed)}")


def _choices(value: Any, allowed: tuple[str, ...], where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConversationFileError(f"{where}: {key} must be a non-empty list")
    for item in value:
        _one_of(item, allowed, where, key[:-1] if key.endswith("s") else key)
    if len(set(value)) != len(value):
        raise ConversationFileError(f"{where}: {key} lists an entry twice")
    return tuple(value)


def _fragments(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(
            isinstance(item, str) and item.strip() for item in value):
        raise ConversationFileError(f"{where}: {key} must be a non-empty list of non-empty "
                                    "strings")
    return tuple(value)


KNOWN_FAILURES = CONVERSATIONS / "known_failures.yml"


def load_known_failures(conversations: list[Conversation],
                        path: Path = KNOWN_FAILURES) -> dict[str, str]:
    """`id` or `id@channel` → why it fails today; every entry names a conversation (and one of
    its channels), so the list cannot keep a stale entry."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConversationFileError(f"{path}: not valid YAML: {error}") from error
    known = _mapping(data, str(path), "the file")
    channels_of = {conversation.id: conversation.channels for conversation in conversations}
    for key, reason in known.items():
        conversation_id, _, channel = str(key).partition("@")
        if conversation_id not in channels_of:
            raise ConversationFileError(f"{path}: {key!r} names no conversation in the set")
        if channel and channel not in channels_of[conversation_id]:
            raise ConversationFileError(f"{path}: {key!r}: {conversation_id} is not played over "
                                        f"{channel}")
        _text(reason, str(path), f"the reason for {key}")
    return {str(key): str(reason) for key, reason in known.items()}


def known_failure(known: dict[str, str], conversation: Conversation,
                  channel: str) -> Optional[str]:
    """Why this conversation over this channel is expected to fail today, or None."""
    return (known.get(f"{conversation.id}@{channel}") or known.get(conversation.id)
            or conversation.xfail)
