"""Rapport's own Rasa NLU components (intent classifier, sentiment, language)."""
