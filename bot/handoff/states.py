"""The handoff state machine: which moves are allowed from which state.

```
            claim                resolve
 waiting ──────────► assigned ──────────► resolved
   │  ▲                │  ▲ transfer (to another agent)
   │  └── release ─────┘  └──┘
   ├── callback (no agent online, or none within RAPPORT_HANDOFF_MAX_WAIT) ──► callback
   └── abandon (the customer restarted or left) ─────────────────────────────► abandoned
 assigned ── abandon ──► abandoned
```

`waiting` and `assigned` are open: the Rasa conversation is paused and a person owns it.
The others are closed and final. The store applies a move with one conditional UPDATE
(`WHERE state IN (the move's sources)`), so two agents or two processes cannot both win.
"""

from __future__ import annotations

WAITING = "waiting"
ASSIGNED = "assigned"
RESOLVED = "resolved"
CALLBACK = "callback"
ABANDONED = "abandoned"

STATES = (WAITING, ASSIGNED, RESOLVED, CALLBACK, ABANDONED)
OPEN_STATES = (WAITING, ASSIGNED)
CLOSED_STATES = (RESOLVED, CALLBACK, ABANDONED)

# move -> {from state: to state}
MOVES: dict[str, dict[str, str]] = {
    "claim": {WAITING: ASSIGNED},
    "transfer": {ASSIGNED: ASSIGNED},
    "release": {ASSIGNED: WAITING},
    "resolve": {ASSIGNED: RESOLVED},
    "callback": {WAITING: CALLBACK},
    "abandon": {WAITING: ABANDONED, ASSIGNED: ABANDONED},
}


class InvalidTransition(ValueError):
    """That move is not allowed from the handoff's current state."""

    def __init__(self, move: str, state: str) -> None:
        super().__init__(f"cannot {move} a handoff that is {state}")
        self.move = move
        self.state = state


def sources(move: str) -> tuple[str, ...]:
    """The states `move` may start from."""
    try:
        return tuple(MOVES[move])
    except KeyError:
        raise ValueError(f"unknown move {move!r}") from None


def next_state(state: str, move: str) -> str:
    """The state after `move`, or InvalidTransition."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    targets = MOVES.get(move)
    if targets is None:
        raise ValueError(f"unknown move {move!r}")
    if state not in targets:
        raise InvalidTransition(move, state)
    return targets[state]


def is_open(state: str) -> bool:
    return state in OPEN_STATES
