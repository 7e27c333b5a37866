"""Rasa custom actions: thin, one module per concern; the logic lives in `bot/`."""
