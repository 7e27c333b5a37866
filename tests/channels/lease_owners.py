"""Lease owners for tests (`channels.leases`): one like this process's, and one certainly gone."""

from __future__ import annotations

import subprocess
import sys

from channels.leases import new_owner


def owner_with(**parts: str) -> str:
    """An owner name like this process's, with some of its parts replaced."""
    host, namespace, pid, token = new_owner().split("|")
    fields = {"host": host, "namespace": namespace, "pid": pid, "token": token, **parts}
    return "|".join((fields["host"], fields["namespace"], fields["pid"], fields["token"]))


def exited_pid() -> int:
    """The PID of a process that has run and been reaped."""
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                            capture_output=True, text=True, check=True)
    return int(exited.stdout)


def dead_owner() -> str:
    """The owner name of a process on this machine that has exited (a kill -9'd runner)."""
    return owner_with(pid=str(exited_pid()))
