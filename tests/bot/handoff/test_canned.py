"""The brand's canned responses for agents."""

from __future__ import annotations

import pytest

from bot.handoff.canned import CannedResponse, CannedResponsesError, load_canned
from tests.conftest import PROJECT


def test_the_brands_file_loads():
    responses = load_canned(PROJECT / "brand" / "canned_responses.yml")
    assert len(responses) >= 5
    assert all(r.title and r.text for r in responses)


def test_fill_uses_the_first_name_or_leaves_it_out():
    canned = CannedResponse("Hello", "Hi {customer}, I'm {agent}. {unknown} stays.")
    assert canned.fill("Grace Hopper", "Sam") == "Hi Grace, I'm Sam. {unknown} stays."
    assert canned.fill(None, "Sam") == "Hi, I'm Sam. {unknown} stays."
    thanks = CannedResponse("Thanks", "Thanks for bearing with me, {customer}. Back soon.")
    assert thanks.fill("", "Sam") == "Thanks for bearing with me. Back soon."


def test_a_missing_file_is_no_responses(tmp_path):
    assert load_canned(tmp_path / "none.yml") == []


@pytest.mark.parametrize("content, message", [
    ("responses: [", "not valid YAML"),
    ("- a\n- b\n", "expected a list"),
    ("responses:\n  - title: Hi\n", "response 1 needs a title and a text"),
    ("responses:\n  - title: ''\n    text: hi\n", "response 1 needs a title of"),
])
def test_broken_files_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "canned.yml"
    path.write_text(content)
    with pytest.raises(CannedResponsesError, match=message):
        load_canned(path)
