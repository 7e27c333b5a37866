"""Test support: starting Rapport's real processes and talking to them."""

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]  # the repository root, for every test
