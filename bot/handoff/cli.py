"""`rapport agent add|passwd|list|disable|enable`: console accounts in the hub database.

`bot.ops.cli` calls `add_agent_commands(subparsers)` and then `args.handler(settings, args)`.
Passwords are typed at a prompt that does not echo (or read from stdin for scripts) and
are never printed or logged; only their argon2 hash is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import timedelta
from typing import Any, Awaitable, Callable, TypeVar

from bot.handoff.agents import MIN_PASSWORD, ROLES, AgentDirectory, AgentError
from bot.errors import StoreUnavailable
from bot.handoff.tables import open_database
from bot.settings import Settings

T = TypeVar("T")


def add_agent_commands(subparsers: Any) -> argparse.ArgumentParser:
    agent = subparsers.add_parser("agent", help="agent console accounts (RAPPORT_HUB_DB_URL)")
    commands = agent.add_subparsers(dest="agent_command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="create an account; asks for its password")
    add.add_argument("name", help="login name: letters, digits, '.', '_' or '-'")
    add.add_argument("--role", choices=ROLES, default="agent",
                     help="agent: handles handoffs; analyst: reads; admin: everything")
    add.add_argument("--display-name", metavar="TEXT",
                     help="the name customers see (default: the login name, which they "
                          "then see)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of stdin (scripts)")
    add.set_defaults(handler=run_add)

    shown = commands.add_parser("display-name",
                                help="set the name customers see (none: the login name)")
    shown.add_argument("name")
    shown.add_argument("display_name", nargs="?", default=None, metavar="TEXT")
    shown.set_defaults(handler=run_display_name)

    passwd = commands.add_parser("passwd", help="set a new password (ends their sessions)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(handler=run_passwd)

    listing = commands.add_parser("list", help="list accounts, roles and who is online")
    listing.set_defaults(handler=run_list)

    for name, active in (("disable", False), ("enable", True)):
        command = commands.add_parser(name, help=f"{name} an account"
                                      + (" (ends their sessions)" if not active else ""))
        command.add_argument("name")
        command.set_defaults(handler=run_set_active, active=active)
    return agent


def _with_directory(settings: Settings, work: Callable[[AgentDirectory], Awaitable[T]]) -> T:
    async def main() -> T:
        db = open_database(settings.hub_db_url)
        try:
            return await work(AgentDirectory(db))
        finally:
            await db.close()
    return asyncio.run(main())


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password (at least {MIN_PASSWORD} characters): ")
    second = getpass.getpass("the same password again: ")
    if first != second:
        raise AgentError("the two passwords differ")
    return first


def _guarded(command: Callable[[Settings, argparse.Namespace], int]
             ) -> Callable[[Settings, argparse.Namespace], int]:
    def handler(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return command(settings, args)
        except (AgentError, StoreUnavailable) as error:
            print(f"rapport agent: error: {error}", file=sys.stderr)
            return 2
        except (EOFError, KeyboardInterrupt):
            print("rapport agent: stopped", file=sys.stderr)
            return 130
    return handler


@_guarded
def run_add(settings: Settings, args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    agent = _with_directory(settings, lambda d: d.add(args.name, args.role, password,
                                                      args.display_name))
    shown = f", shown to customers as {agent.display_name}" if agent.display_name else ""
    print(f"added {agent.role} {agent.name} ({agent.id}{shown}); they sign in at "
          f"{settings.hub_public_url}/login")
    return 0


@_guarded
def run_display_name(settings: Settings, args: argparse.Namespace) -> int:
    _with_directory(settings, lambda d: d.set_display_name(args.name, args.display_name))
    print(f"customers now see {args.name} as {args.display_name or args.name}")
    return 0


@_guarded
def run_passwd(settings: Settings, args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    _with_directory(settings, lambda d: d.set_password(args.name, password))
    print(f"new password set for {args.name}; their open sessions have ended")
    return 0


@_guarded
def run_list(settings: Settings, args: argparse.Namespace) -> int:
    window = timedelta(seconds=settings.handoff_presence)

    async def work(directory: AgentDirectory):
        return await directory.list(), {a.id for a in await directory.online(window)}
    agents, online = _with_directory(settings, work)
    if not agents:
        print("no accounts yet: rapport agent add NAME --role agent|analyst|admin")
        return 0
    print(f"{'name':<24} {'role':<8} {'state':<9} {'online':<6} shown as")
    for agent in agents:
        state = "active" if agent.active else "disabled"
        here = "yes" if agent.id in online else "no"
        print(f"{agent.name:<24} {agent.role:<8} {state:<9} {here:<6} {agent.shown_name}")
    return 0


@_guarded
def run_set_active(settings: Settings, args: argparse.Namespace) -> int:
    _with_directory(settings, lambda d: d.set_active(args.name, args.active))
    print(f"{'enabled' if args.active else 'disabled'} {args.name}")
    return 0
