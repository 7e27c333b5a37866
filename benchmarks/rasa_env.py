"""The environment a benchmark sets before it loads Rasa in its own process.

Rasa and TensorFlow read these when imported: no telemetry (a benchmark must not dial out),
no tqdm progress bars and no TensorFlow info lines in the benchmark's output. A value the
shell already exports wins, so a run can still turn one back on.
"""

from __future__ import annotations

import os

QUIET_RASA = {"RASA_TELEMETRY_ENABLED": "false", "TQDM_DISABLE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def quiet_rasa() -> None:
    """Set QUIET_RASA's variables the shell has not set; call it before importing Rasa."""
    for name, value in QUIET_RASA.items():
        os.environ.setdefault(name, value)
