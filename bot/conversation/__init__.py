"""Holding a conversation: who the customer is, their orders, not understanding, feedback."""
