"""Every file of the conversation set parses and follows the format, without the stack.

The format's checks are strict (an unknown key, kind, channel or value names the file), so a
typo cannot quietly drop a check; the set covers every kind; known_failures.yml names only
conversations that exist.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.support.conversation_files import (
    CONVERSATIONS, KINDS, ConversationFileError, load_file, load_known_failures, load_set,
    parse,
)

NUMBERED_KINDS = KINDS[:14]  # issue 9's fourteen kinds, in its order


def minimal(**changes) -> dict:
    data = {"id": "late-order", "title": "A late order", "kinds": ["happy_order_status"],
            "turns": [{"say": "where is my order", "expect": {"asks_for": "order_number"}}]}
    data.update(changes)
    return data


def parsed(data: dict, author: str = "team"):
    return parse(data, Path(f"tests/conversations/{author}/late-order.yml"), author)


def test_every_file_in_the_set_parses_and_validates():
    conversations = load_set()
    assert len(conversations) >= 60
    assert len({c.id for c in conversations}) == len(conversations)
    for conversation in conversations:
        assert conversation.path.stem == conversation.id
        assert conversation.author == conversation.path.parent.name


def test_the_team_set_covers_every_kind_and_the_channels():
    team = [c for c in load_set() if c.author == "team"]
    kinds = Counter(kind for c in team for kind in c.kinds)
    assert len(team) >= 60
    assert not [kind for kind in KINDS if kinds[kind] < 2], kinds
    assert not [kind for kind in NUMBERED_KINDS if kinds[kind] < 3], kinds
    channels = Counter(channel for c in team for channel in c.channels)
    assert channels["webchat"] >= 15 and channels["telegram"] >= 10, channels


def test_known_failures_name_conversations_of_the_set():
    conversations = load_set()
    known = load_known_failures(conversations)
    ids = {c.id for c in conversations}
    assert all(key.partition("@")[0] in ids for key in known)
    assert all(reason.strip() for reason in known.values())


def test_a_minimal_conversation_gets_its_defaults():
    conversation = parsed(minimal())
    assert conversation.channels == ("rest",)
    assert conversation.final == {}
    assert conversation.turns[0].expect == {"asks_for": "order_number"}


@pytest.mark.parametrize(("changes", "message"), [
    ({"tags": ["x"]}, "unknown top level key 'tags'"),
    ({"kinds": ["late_order"]}, "kind 'late_order' is not one of"),
    ({"kinds": []}, "kinds must be a non-empty list"),
    ({"channels": ["whatsapp"]}, "channel 'whatsapp' is not one of"),
    ({"id": "other"}, "must equal the file name"),
    ({"turns": []}, "turns must be a non-empty list"),
    ({"turns": [{"says": "hi"}]}, "unknown turn key 'says'"),
    ({"turns": [{"say": "  "}]}, "say must be a non-empty string"),
    ({"turns": [{"say": "hi", "expect": {"asks_for": "email"}}]}, "asks_for 'email'"),
    ({"turns": [{"say": "hi", "expect": {"reply_any": ["x"]}}]}, "unknown expect key 'reply_any'"),
    ({"turns": [{"say": "hi", "expect": {"replies_any": "order"}}]}, "non-empty list"),
    ({"turns": [{"say": "hi", "expect": {"verified": "yes"}}]}, "verified must be true or false"),
    ({"turns": [{"say": "hi", "expect": {"http_status": 200}}]}, "http_status must be an HTTP"),
    ({"final": {"handoff_priority": "top"}}, "handoff_priority 'top'"),
    ({"final": {"csat": 6}}, "csat must be a whole number 1-5"),
    ({"final": {"case_issue": "broken"}}, "case_issue 'broken'"),
    ({"final": {"rating": 4}}, "unknown final key 'rating'"),
])
def test_a_wrong_file_is_refused_naming_the_file_and_the_key(changes: dict, message: str):
    with pytest.raises(ConversationFileError) as error:
        parsed(minimal(**changes))
    assert "late-order.yml" in str(error.value)
    assert message in str(error.value)


def test_only_team_written_conversations_may_name_the_bots_internals():
    internal = minimal(turns=[{"say": "hi", "expect": {"responses": ["utter_greet"],
                                                       "slots": {"rating": "4"},
                                                       "active_loop": None}}])
    assert parsed(internal, "team").turns[0].expect["responses"] == ("utter_greet",)
    with pytest.raises(ConversationFileError, match="only team-written conversations"):
        parsed(internal, "blind")


def test_a_file_outside_the_author_folders_or_not_yaml_is_refused(tmp_path: Path):
    broken = tmp_path / "team" / "broken.yml"
    broken.parent.mkdir()
    broken.write_text("id: broken\nturns: [\n")
    with pytest.raises(ConversationFileError, match="broken.yml: not valid YAML"):
        load_file(broken)
    stray = tmp_path / "drafts" / "late-order.yml"
    stray.parent.mkdir()
    stray.write_text(yaml.safe_dump(minimal()))
    with pytest.raises(ConversationFileError, match="folder must be one of"):
        load_file(stray)


def test_two_files_with_one_id_are_refused(tmp_path: Path):
    for author in ("blind", "team"):
        folder = tmp_path / author
        folder.mkdir()
        (folder / "late-order.yml").write_text(yaml.safe_dump(minimal()))
    with pytest.raises(ConversationFileError, match="already used by"):
        load_set(tmp_path)


def test_a_known_failure_for_a_missing_conversation_or_channel_is_refused(tmp_path: Path):
    conversations = [parsed(minimal())]
    stale = tmp_path / "known_failures.yml"
    stale.write_text("gone-conversation: fixed long ago\n")
    with pytest.raises(ConversationFileError, match="names no conversation"):
        load_known_failures(conversations, stale)
    stale.write_text("late-order@telegram: fails on Telegram\n")
    with pytest.raises(ConversationFileError, match="is not played over telegram"):
        load_known_failures(conversations, stale)


def test_the_set_lives_where_the_readme_says():
    assert CONVERSATIONS == Path(__file__).parent
