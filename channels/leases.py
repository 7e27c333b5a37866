"""Who holds a lease on a chat or an outbox row, and whether that holder is certainly gone.

Leases in the database, not locks in memory, keep two processes from working on one chat:
a lease names its owner and expires. A process killed with SIGKILL leaves its leases
behind; another process waits for them to expire, but a process on the same machine (same
host name and PID namespace) can see that the owner's PID is gone and take over at once,
so a restarted Rapport resumes a chat straight away.
"""

from __future__ import annotations

import os
import secrets
import socket
from functools import lru_cache
from typing import Optional


@lru_cache(maxsize=1)
def _pid_namespace() -> Optional[str]:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:  # not Linux: only lease expiry frees a lease
        return None


def new_owner() -> str:
    """A unique owner name for this process: host|pid namespace|pid|random."""
    return "|".join((socket.gethostname(), _pid_namespace() or "-", str(os.getpid()),
                     secrets.token_hex(4)))


def owner_is_gone(owner: Optional[str]) -> bool:
    """True only when `owner` ran on this machine's PID namespace and its PID no longer exists."""
    if not owner:
        return True
    parts = owner.split("|")
    if len(parts) != 4 or parts[1] == "-" or _pid_namespace() is None:
        return False
    host, namespace, pid, _ = parts
    if host != socket.gethostname() or namespace != _pid_namespace() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():  # another runtime in this process: alive
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def lease_is_free(owner: Optional[str], lease_until: float, now: float) -> bool:
    """A lease can be taken when it has expired or its owner is certainly gone."""
    return lease_until < now or owner_is_gone(owner)
