"""Runs the Rasa server the way Rapport needs it: loopback, and an authenticated API.

Rasa's HTTP API can replace the model, inject events and train (CVE-2024-49375), so it is on
only with a JWT secret (from the environment, never a URL token that lands in access logs).
The embedded profile's SQLite files live in RAPPORT_VAR_DIR whatever endpoints.yml says.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from bot.ops import tracker_store_guard
from bot.settings import Settings

logger = logging.getLogger(__name__)

JWT_METHOD = "HS256"


def load_endpoints(settings: Settings):  # -> rasa.core.utils.AvailableEndpoints
    """endpoints.yml, with SQLite tracker store and event broker moved under var/."""
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(settings.home / settings.endpoints_file))
    for config, path in ((endpoints.tracker_store, settings.tracker_db),
                         (endpoints.event_broker, settings.events_db)):
        if config and str(config.kwargs.get("dialect", "")).startswith("sqlite"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            config.kwargs["db"] = path
    if endpoints.action and settings.actions_port:
        endpoints.action.url = settings.action_webhook_url
    return endpoints


def serve(settings: Settings, model_path: Path, credentials: Optional[Path] = None) -> None:
    """Serve Rasa until the process is told to stop."""
    import rasa.core.run

    endpoints = load_endpoints(settings)
    tracker_store_guard.check_tracker_store_class(getattr(endpoints.tracker_store, "type", None))
    tracker_store_guard.check_tracker_store(settings)

    from bot.dialogue import ted_cache
    from bot.ops import action_guard, action_response_check, model_loading

    tracker_store_guard.install()  # a store that fails refuses the message, never forgets
    action_guard.install(settings.action_timeout_s)
    action_response_check.install()  # Rasa's check of action answers, its schema compiled once
    ted_cache.install()  # TED runs once per dialogue state it has not seen
    model_loading.install()  # ready in seconds, not a minute
    credentials = credentials or settings.home / "credentials.yml"
    jwt_secret = settings.rasa_jwt_secret
    if not jwt_secret:
        logger.warning("RAPPORT_RASA_JWT_SECRET is not set: Rasa's HTTP API stays off")
    rasa.core.run.serve_application(
        model_path=str(model_path),
        credentials=str(credentials),
        interface=settings.host,
        port=settings.rasa_port,
        enable_api=bool(jwt_secret),
        jwt_secret=jwt_secret,
        jwt_method=JWT_METHOD,
        endpoints=endpoints,
        log_file=str(settings.logs_dir / "rasa-server.log"),
    )
