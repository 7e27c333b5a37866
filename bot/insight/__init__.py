"""Exchange log, insight and the NLU inbox."""
