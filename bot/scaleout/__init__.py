"""The scale-out profile: what more than one Rasa process needs."""
