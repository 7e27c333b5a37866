"""Fixtures for the corpus: the channels' test servers (tests/channels) and the hub's
(tests/bot/hub), so the corpus runs over the real channel servers and renders the console."""

from tests.bot.hub.conftest import (  # noqa: F401 (fixtures)
    console, desk, fake_rasa, hub, hub_settings, rasa_port, sender,
)
from tests.channels.telegram.conftest import (  # noqa: F401 (fixtures)
    fake, fake_api, scripted, start_channel,
)
from tests.channels.test_rest import rest_server  # noqa: F401 (fixture)
from tests.channels.webchat.conftest import channel_server  # noqa: F401 (fixture)
from tests.support.passwords import fast_password_hashing  # noqa: F401 (autouse)
