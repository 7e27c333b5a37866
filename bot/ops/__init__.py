"""Running Rapport: the CLI, the process supervisor, training and content checks."""
