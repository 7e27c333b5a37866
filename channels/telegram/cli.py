"""`rapport telegram set-webhook|delete-webhook|info`: connect the bot to Telegram.

`set-webhook URL` registers the webhook with a fresh random secret and prints the variable
to set (RAPPORT_TELEGRAM_WEBHOOK_SECRET); the secret is never written to a file. Failures
are one line on stderr and exit code 2; the bot token never appears in the output.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from typing import Any, Awaitable, Callable, TypeVar
from urllib.parse import urlsplit, urlunsplit

from bot.settings import Settings

T = TypeVar("T")
WEBHOOK_PATH = "/webhooks/telegram/webhook"
EXIT_ERROR = 2


class TelegramCliError(RuntimeError):
    """A failure the user can act on; printed as one line."""


def add_telegram_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add `telegram` with its `set-webhook`, `delete-webhook` and `info` subcommands."""
    telegram = subparsers.add_parser(
        "telegram", help="connect the bot to Telegram (RAPPORT_TELEGRAM_TOKEN)")
    commands = telegram.add_subparsers(dest="telegram_command", metavar="COMMAND", required=True)

    set_webhook = commands.add_parser(
        "set-webhook", help="register the public HTTPS URL Telegram posts updates to")
    set_webhook.add_argument("url", help=f"https://your.domain{WEBHOOK_PATH} (the path is "
                                         "added when you give only the domain)")
    set_webhook.add_argument("--keep-secret", action="store_true",
                             help="reuse RAPPORT_TELEGRAM_WEBHOOK_SECRET instead of a new one")
    set_webhook.add_argument("--drop-pending-updates", action="store_true",
                             help="discard updates Telegram is still holding for the bot")
    set_webhook.set_defaults(handler=_guarded(cmd_set_webhook))

    delete = commands.add_parser("delete-webhook", help="stop webhook delivery (e.g. to poll)")
    delete.add_argument("--drop-pending-updates", action="store_true",
                        help="discard updates Telegram is still holding for the bot")
    delete.set_defaults(handler=_guarded(cmd_delete_webhook))

    info = commands.add_parser("info", help="the bot and its webhook as Telegram sees them")
    info.set_defaults(handler=_guarded(cmd_info))
    return telegram


def webhook_url(url: str) -> str:
    """The full webhook URL: HTTPS, with the channel's path added to a bare domain."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise TelegramCliError(f"the webhook URL must start with https:// (got {url!r}); "
                               "Telegram only posts to HTTPS")
    path = parts.path if parts.path not in ("", "/") else WEBHOOK_PATH
    if not path.endswith(WEBHOOK_PATH):
        raise TelegramCliError(f"the webhook URL must end with {WEBHOOK_PATH} (got {url!r})")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def cmd_set_webhook(settings: Settings, args: argparse.Namespace) -> int:
    from channels.telegram.inbound import HANDLED_UPDATES

    url = webhook_url(args.url)
    if args.keep_secret:
        if not settings.telegram_webhook_secret:
            raise TelegramCliError("--keep-secret: RAPPORT_TELEGRAM_WEBHOOK_SECRET is not set")
        secret = settings.telegram_webhook_secret
    else:
        secret = secrets.token_urlsafe(32)  # Telegram allows A-Z a-z 0-9 _ -, 1-256 characters

    async def register(bot: Any) -> None:
        await bot.set_webhook(url, secret_token=secret, allowed_updates=list(HANDLED_UPDATES),
                              drop_pending_updates=args.drop_pending_updates)

    _with_bot(settings, register)
    print(f"Telegram now posts updates to {url}")
    if args.keep_secret:
        print("The secret is unchanged (RAPPORT_TELEGRAM_WEBHOOK_SECRET).")
        return 0
    print("Set this secret in the environment of Rapport (never in a committed file) and "
          "restart it:")
    print(f"  RAPPORT_TELEGRAM_WEBHOOK_SECRET={secret}")
    print("Until then the webhook answers 403; Telegram keeps re-sending updates for 24 hours.")
    return 0


def cmd_delete_webhook(settings: Settings, args: argparse.Namespace) -> int:
    async def delete(bot: Any) -> None:
        await bot.delete_webhook(drop_pending_updates=args.drop_pending_updates)

    _with_bot(settings, delete)
    print("webhook deleted: Telegram holds updates until a webhook is set or the bot polls "
          "(rapport run --telegram-polling)")
    return 0


def cmd_info(settings: Settings, args: argparse.Namespace) -> int:
    async def read(bot: Any) -> tuple[Any, Any]:
        return await bot.get_me(), await bot.get_webhook_info()

    me, info = _with_bot(settings, read)
    print(f"bot:              @{me.username} (id {me.id})")
    print(f"webhook:          {info.url or '(none: updates wait, or the bot polls)'}")
    print(f"pending updates:  {info.pending_update_count}")
    if info.last_error_message:
        when = info.last_error_date.isoformat() if info.last_error_date else "?"
        print(f"last error:       {info.last_error_message} ({when})")
    if info.allowed_updates:
        print(f"update types:     {', '.join(info.allowed_updates)}")
    for name, value in _store_counts(settings).items():
        print(f"{name + ':':<18}{value}")
    return 0


def _store_counts(settings: Settings) -> dict[str, object]:
    """The channel's own store (RAPPORT_TELEGRAM_DB_URL): is anything stuck?"""
    from channels.telegram.store import StoreUnavailable, TelegramStore

    async def read() -> dict[str, object]:
        store = TelegramStore(settings.telegram_db_url, timeout=3.0)
        try:
            return dict(await store.counts())
        except StoreUnavailable as error:
            return {"store": f"unavailable ({error})"}
        finally:
            await store.close()

    return asyncio.run(read())


def _with_bot(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run `action(bot)` with a python-telegram-bot Bot for settings' token and API URL."""
    from channels.telegram.api import BotApi

    if not settings.telegram_token:
        raise TelegramCliError("RAPPORT_TELEGRAM_TOKEN is not set (the token BotFather gave you)")

    async def run() -> T:
        api = BotApi(settings.telegram_token, settings.telegram_api_url)
        try:
            return await action(api.bot)
        finally:
            await api.close()

    return asyncio.run(run())


def _explain(error: Exception, settings: Settings) -> str:
    from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut

    if isinstance(error, InvalidToken):  # its message repeats the token: never print it
        return "Telegram refused the bot token: check RAPPORT_TELEGRAM_TOKEN"
    if isinstance(error, TimedOut):
        return "the Bot API did not answer in time; try again"
    if isinstance(error, NetworkError) and str(error).startswith(("httpx.", "Unknown error")):
        host = urlsplit(settings.telegram_api_url).netloc or settings.telegram_api_url
        return f"cannot reach the Bot API at {host}; check the network"
    if isinstance(error, TelegramError):
        return f"the Bot API said: {error}"
    return str(error)


def _guarded(command: Callable[[Settings, argparse.Namespace], int]
             ) -> Callable[[Settings, argparse.Namespace], int]:
    def handler(settings: Settings, args: argparse.Namespace) -> int:
        from telegram.error import TelegramError

        try:
            return command(settings, args)
        except (TelegramCliError, TelegramError) as error:
            message = _explain(error, settings)
            if settings.telegram_token:
                message = message.replace(settings.telegram_token, "<token>")
            print(f"rapport: error: {message}", file=sys.stderr)
            return EXIT_ERROR

    return handler
