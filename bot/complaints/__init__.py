"""Complaints: how severe, what the brand's policy offers, and the case from report to remedy."""
