"""Rasa dialogue components of Rapport (policies); their logic lives in bot/conversation/."""
