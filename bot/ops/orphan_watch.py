"""A service started by `rapport run` stops when its supervisor is gone.

The supervisor starts each service in a session of its own (so a Ctrl-C reaches the
supervisor alone, which then stops them in order). A supervisor killed with SIGKILL, or
crashed, cannot stop them: Rasa, the action server and the hub would keep running on their
ports, unsupervised, and the next `rapport run` would refuse to start ("port in use"). So each
service watches its parent: once the supervisor is gone (the service has been re-parented),
it stops its own process group as the supervisor would have: SIGTERM, then SIGKILL after a
grace period.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Callable, Optional

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
GRACE_S = 15.0  # as long as the supervisor's own stop waits


def watch_supervisor(supervisor_pid: Optional[int], *, check_every: float = CHECK_EVERY_S,
                     grace: float = GRACE_S,
                     stop: Optional[Callable[[int], None]] = None) -> Optional[threading.Thread]:
    """Start watching (a daemon thread); None when not started by a supervisor.

    `stop(signal)` signals this service (default: its whole process group).
    """
    if supervisor_pid is None:
        return None
    signal_group = stop or (lambda signum: os.killpg(os.getpgrp(), signum))

    def watch() -> None:
        while os.getppid() == supervisor_pid:
            time.sleep(check_every)
        logger.warning("the supervisor (pid %d) is gone: stopping this service", supervisor_pid)
        signal_group(signal.SIGTERM)
        time.sleep(grace)
        signal_group(signal.SIGKILL)  # still here after the grace period

    thread = threading.Thread(target=watch, name="orphan-watch", daemon=True)
    thread.start()
    return thread
