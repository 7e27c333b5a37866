"""Rapport: a brand's customer-engagement assistant on Rasa Open Source 3.6."""
