"""Writing exchange-log rows directly, for tests of what reads them (search, privacy)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bot.insight.tables import conversations, event_key, turns


def add_conversation(engine: Engine, conversation_id: str, started_at: datetime, *,
                     turns_said: Optional[list[dict[str, Any]]] = None,
                     **columns: Any) -> None:
    """One conversation with its turns; each turn is a dict of insight_turns columns
    (`entities` as a list), a minute apart from `started_at` unless it says `at`."""
    said = turns_said or [{"role": "customer", "text": "hello", "intent": "greet"}]
    moments = [turn.get("at", started_at + timedelta(minutes=index))
               for index, turn in enumerate(said)]
    values = {"conversation_id": conversation_id, "started_at": started_at,
              "last_at": max(moments), "customer_turns": sum(t["role"] == "customer" for t in said),
              "bot_turns": sum(t["role"] == "bot" for t in said), **columns}
    with engine.begin() as connection:
        connection.execute(insert(conversations).values(**values))
        for index, (turn, moment) in enumerate(zip(said, moments)):
            row = {**turn, "at": moment, "conversation_id": conversation_id,
                   "event_key": event_key(conversation_id, {"event": turn["role"],
                                                            "timestamp": index,
                                                            "text": turn.get("text")})}
            if isinstance(row.get("entities"), list):
                row["entities"] = json.dumps(row["entities"])
            connection.execute(insert(turns).values(**row))
