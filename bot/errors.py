"""Rapport's named errors, in one tree, so a boundary can catch a whole family by one name.

    RapportError                  anything Rapport raises on purpose, with a message for people
    ├── ContentError              a content file is wrong; the message names the file
    │   ├── BrandDataError        bot/brand.py: brand/*.yml
    │   ├── PolicyError           bot/complaints/policy_file.py: policies/
    │   ├── SeverityConfigError   bot/complaints/severity.py: severity weights
    │   └── CannedResponsesError  bot/handoff/canned.py: brand/canned_responses.yml
    ├── SettingsError             bot/settings.py: configuration (RAPPORT_* variables)
    ├── Unavailable               something Rapport depends on cannot answer now: retry later
    │   ├── StoreUnavailable      bot/database.py: a SQL store (hub, web chat, Telegram)
    │   ├── TrackerStoreUnavailable  bot/ops/tracker_store_guard.py: Rasa's tracker store
    │   ├── CrmUnavailable        bot/crm/interface.py: the CRM (also a CrmError)
    │   ├── RasaApiError          bot/hub/rasa_api.py: Rasa's HTTP API
    │   │   └── RasaUnavailable
    │   └── DeliveryFailed        bot/channel_registry.py: a message to a customer's app
    ├── StaticEmbeddingsError     bot/nlu/static_embeddings.py: WordLlama's files missing/damaged
    └── CliError, SupervisorError, TrainingError   bot/ops: a command could not do its job

Errors that were a ValueError or RuntimeError before the tree stay one (second base), so
code that catches those still does.
"""

from __future__ import annotations


class RapportError(Exception):
    """The root of Rapport's own errors: the message is fit to show to a person."""


class ContentError(RapportError, ValueError):
    """A content file is broken; the message names the file (and line, when known)."""


class Unavailable(RapportError):
    """A service Rapport depends on cannot answer now; the caller may retry or say so."""


class StoreUnavailable(Unavailable, RuntimeError):
    """A SQL store cannot be reached or failed (the message names the error class)."""
