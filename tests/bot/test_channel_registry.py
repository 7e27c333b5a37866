"""bot.channel_registry: `bot/` finds channel senders by the Rasa input channel they reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.channel_registry import ENTRY_POINT_GROUP, ChannelPlugin, ChannelRegistry
from bot.settings import Settings
from tests.support import PROJECT

NOT_A_PLUGIN = object()  # what a broken entry point resolves to


class _Sender:
    """A ChannelSender that remembers which plugin and settings made it."""

    def __init__(self, made_by: str, settings: Settings) -> None:
        self.made_by = made_by
        self.settings = settings

    async def send(self, recipient_id: str, messages: list[dict[str, Any]]) -> None:
        raise AssertionError("the registry only makes senders")

    async def close(self) -> None:
        return None


def _plugin(name: str, reaches: tuple[str, ...], with_sender: bool = True) -> ChannelPlugin:
    def make(settings: Settings) -> _Sender:
        return _Sender(name, settings)

    return ChannelPlugin(name=name, reaches=reaches, make_sender=make if with_sender else None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=PROJECT, var_dir=tmp_path)


def test_sender_for_picks_the_plugin_that_reaches_the_channel(settings: Settings) -> None:
    registry = ChannelRegistry([_plugin("sms", ("sms",)), _plugin("web", ("webchat", "rest"))])
    sender = registry.sender_for("rest", settings)
    assert isinstance(sender, _Sender)
    assert sender.made_by == "web"
    assert sender.settings is settings
    assert registry.sender_for("sms", settings).made_by == "sms"


def test_sender_for_is_none_when_no_plugin_reaches_the_channel(settings: Settings) -> None:
    registry = ChannelRegistry([_plugin("sms", ("sms",))])
    assert registry.sender_for("telegram", settings) is None
    assert ChannelRegistry([]).sender_for("sms", settings) is None


def test_a_plugin_without_a_sender_is_passed_over(settings: Settings) -> None:
    registry = ChannelRegistry([_plugin("mute", ("sms",), with_sender=False),
                                _plugin("loud", ("sms",))])
    assert registry.sender_for("sms", settings).made_by == "loud"
    assert ChannelRegistry([_plugin("mute", ("sms",), with_sender=False)]).sender_for(
        "sms", settings) is None


def test_plugins_are_kept_by_name() -> None:
    first, second = _plugin("sms", ("sms",)), _plugin("web", ("webchat",))
    registry = ChannelRegistry([first, second])
    assert registry.plugins == [first, second]
    assert registry.get("web") is second
    assert registry.get("fax") is None


def test_installed_finds_the_telegram_and_web_chat_plugins() -> None:
    registry = ChannelRegistry.installed()
    assert {"telegram", "webchat"} <= {plugin.name for plugin in registry.plugins}
    assert registry.get("telegram").reaches == ("telegram",)
    assert registry.get("webchat").reaches == ("webchat", "rest")
    assert registry.get("webchat").static_dir is not None


def test_installed_refuses_an_entry_point_that_is_not_a_plugin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (if tiny) distribution on sys.path declares a broken entry point."""
    dist_info = tmp_path / "rapport_broken_channel-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rapport-broken-channel\nVersion: 0.1\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nbroken = {__name__}:NOT_A_PLUGIN\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match=f"entry point broken in {ENTRY_POINT_GROUP} is not a "
                                        "ChannelPlugin"):
        ChannelRegistry.installed()
