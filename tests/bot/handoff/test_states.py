"""The handoff state machine: every allowed move, and every refused one."""

from __future__ import annotations

import pytest

from bot.handoff.states import (
    ABANDONED, ASSIGNED, CALLBACK, CLOSED_STATES, MOVES, RESOLVED, STATES, WAITING,
    InvalidTransition, is_open, next_state, sources,
)

ALLOWED = {
    (WAITING, "claim"): ASSIGNED,
    (ASSIGNED, "transfer"): ASSIGNED,
    (ASSIGNED, "release"): WAITING,
    (ASSIGNED, "resolve"): RESOLVED,
    (WAITING, "callback"): CALLBACK,
    (WAITING, "abandon"): ABANDONED,
    (ASSIGNED, "abandon"): ABANDONED,
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("move", sorted(MOVES))
def test_each_move_from_each_state(state, move):
    if (state, move) in ALLOWED:
        assert next_state(state, move) == ALLOWED[(state, move)]
    else:
        with pytest.raises(InvalidTransition) as raised:
            next_state(state, move)
        assert raised.value.state == state and raised.value.move == move
        assert f"cannot {move}" in str(raised.value)


@pytest.mark.parametrize("state", CLOSED_STATES)
def test_closed_handoffs_are_final(state):
    assert not is_open(state)
    assert all(state not in targets for targets in MOVES.values())


def test_a_handoff_cannot_be_resolved_before_someone_claims_it():
    with pytest.raises(InvalidTransition):
        next_state(WAITING, "resolve")


def test_a_claimed_handoff_no_longer_times_out_into_a_callback():
    with pytest.raises(InvalidTransition):
        next_state(ASSIGNED, "callback")


def test_sources_of_a_move():
    assert set(sources("abandon")) == {WAITING, ASSIGNED}
    assert sources("claim") == (WAITING,)


@pytest.mark.parametrize("state, move", [("lost", "claim"), (WAITING, "teleport")])
def test_unknown_states_and_moves_are_programming_errors(state, move):
    with pytest.raises(ValueError) as raised:
        next_state(state, move)
    assert not isinstance(raised.value, InvalidTransition)
