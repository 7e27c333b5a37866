"""Test support: starting Rapport's real processes and talking to them."""
