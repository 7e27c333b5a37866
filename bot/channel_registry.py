"""How `bot/` reaches channel code without importing it: channels register, `bot/` looks up.

Dependencies go one way: `channels/` uses `bot/` (settings, the database, this module);
`bot/` never imports `channels/`. Each channel package declares a `ChannelPlugin` under the
`rapport.channels` entry-point group in `pyproject.toml`; the hub and the CLI are handed a
`ChannelRegistry` of them, and tests hand them one of their own. A plugin says which Rasa
input channels its sender reaches (web chat's also holds REST customers' agent messages),
the CLI commands it adds, and the static files the hub serves for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Protocol

from bot.errors import Unavailable
from bot.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "rapport.channels"


class DeliveryFailed(Unavailable):
    """The message could not be delivered now (the caller may retry or tell the agent)."""


class ChannelSender(Protocol):
    """How the hub reaches a customer in their own app while a person has the conversation."""

    async def send(self, recipient_id: str, messages: list[dict[str, Any]]) -> None:
        """Deliver `messages` (Rasa's response format) to the customer `recipient_id`."""

    async def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class ChannelPlugin:
    """What one channel package offers the rest of Rapport."""

    name: str
    reaches: tuple[str, ...] = ()  # Rasa input channel names whose customers `make_sender` reaches
    make_sender: Optional[Callable[[Settings], ChannelSender]] = None
    add_commands: Optional[Callable[[Any], Any]] = None  # given argparse's subparsers
    static_dir: Optional[Path] = None  # files the hub serves under /widget/


class ChannelRegistry:
    """The channel plugins this process knows, by name."""

    def __init__(self, plugins: Iterable[ChannelPlugin]) -> None:
        self._plugins = {plugin.name: plugin for plugin in plugins}

    @classmethod
    def installed(cls) -> "ChannelRegistry":
        """The plugins the installed distribution declares (`pip install -e .` registers them)."""
        plugins = []
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            plugin = entry.load()
            if not isinstance(plugin, ChannelPlugin):
                raise TypeError(f"entry point {entry.name} in {ENTRY_POINT_GROUP} is not a "
                                f"ChannelPlugin: {plugin!r}")
            plugins.append(plugin)
        if not plugins:
            log.warning("no channel plugins are registered (%s); reinstall Rapport with "
                        "scripts/setup.sh", ENTRY_POINT_GROUP)
        return cls(plugins)

    @property
    def plugins(self) -> list[ChannelPlugin]:
        return list(self._plugins.values())

    def get(self, name: str) -> Optional[ChannelPlugin]:
        return self._plugins.get(name)

    def sender_for(self, channel: str, settings: Settings) -> Optional[ChannelSender]:
        """A sender that reaches customers of the input channel `channel`, or None."""
        for plugin in self._plugins.values():
            if channel in plugin.reaches and plugin.make_sender is not None:
                return plugin.make_sender(settings)
        return None
