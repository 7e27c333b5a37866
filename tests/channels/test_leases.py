"""channels.leases: a lease is taken over early only when its owner is certainly gone."""

from __future__ import annotations

import os
import socket

from channels.leases import lease_is_free, new_owner, owner_is_gone
from tests.channels.lease_owners import exited_pid, owner_with


def test_an_owner_names_this_host_and_process_and_is_unique() -> None:
    owner = new_owner()
    host, namespace, pid, token = owner.split("|")
    assert host == socket.gethostname()
    assert pid == str(os.getpid())
    assert namespace == os.readlink("/proc/self/ns/pid")
    assert len(token) == 8 and int(token, 16) >= 0
    assert new_owner() != owner


def test_no_owner_is_gone() -> None:
    assert owner_is_gone(None)
    assert owner_is_gone("")


def test_an_owner_whose_process_has_exited_is_gone() -> None:
    assert owner_is_gone(owner_with(pid=str(exited_pid())))


def test_live_owners_are_not_gone() -> None:
    assert not owner_is_gone(new_owner())  # another runtime in this very process
    assert not owner_is_gone(owner_with(pid=str(os.getppid())))  # a live process


def test_an_owner_we_cannot_check_is_never_gone() -> None:
    dead = str(exited_pid())
    assert not owner_is_gone(owner_with(host="another-host", pid=dead))
    assert not owner_is_gone(owner_with(namespace="pid:[1]", pid=dead))
    assert not owner_is_gone(owner_with(namespace="-", pid=dead))  # owner was not on Linux
    assert not owner_is_gone(owner_with(pid="not-a-pid"))
    assert not owner_is_gone("garbage")
    assert not owner_is_gone("a|b|c")


def test_a_lease_is_free_once_expired_whoever_holds_it() -> None:
    held = owner_with(host="another-host")
    assert lease_is_free(held, lease_until=99.0, now=100.0)
    assert not lease_is_free(held, lease_until=100.0, now=100.0)  # expires after `lease_until`
    assert not lease_is_free(new_owner(), lease_until=101.0, now=100.0)


def test_an_unexpired_lease_is_free_when_its_owner_is_gone() -> None:
    assert lease_is_free(owner_with(pid=str(exited_pid())), lease_until=200.0, now=100.0)
    assert lease_is_free(None, lease_until=200.0, now=100.0)
