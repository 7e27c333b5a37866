"""Runs rasa-sdk's action server on loopback.

rasa-sdk has no authentication, so it must never listen beyond 127.0.0.1 unless a reverse
proxy in front of it does the authenticating.
"""

from __future__ import annotations

from bot.settings import Settings


def serve(settings: Settings) -> None:
    from rasa_sdk.endpoint import create_app

    app = create_app(action_package_name="actions")
    app.run(host=settings.host, port=settings.actions_port, workers=1,
            access_log=False, motd=False)
