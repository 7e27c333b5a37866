"""Rasa input/output channels, each with a sender the hub uses during a handoff."""
