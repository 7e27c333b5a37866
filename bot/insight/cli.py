"""`rapport privacy purge|forget|export`: privacy requests, added to the main CLI's parser.

`bot.ops.cli` calls `add_privacy_commands(subparsers)` and then `args.handler(settings,
args)`. An unknown customer, or a store that fails, is one `rapport: error:` line and exit
code 2 (`bot.ops.cli.main` turns every RapportError into that), with nothing changed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bot.errors import RapportError, StoreUnavailable
from bot.settings import Settings

if TYPE_CHECKING:  # the stores load on use, so `rapport --help` stays quick
    from bot.insight.privacy import PrivacyStores

T = TypeVar("T")


class ExportNotWritten(RapportError, OSError):
    """The export file could not be written."""


def add_privacy_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add `privacy` with its `purge`, `forget` and `export` subcommands."""
    privacy = subparsers.add_parser("privacy", help="retention, erasure and export of "
                                                    "customers' data")
    commands = privacy.add_subparsers(dest="privacy_command", metavar="COMMAND", required=True)

    old = commands.add_parser("purge", help="delete conversations' turns and events older "
                                            "than RAPPORT_RETENTION_DAYS")
    old.set_defaults(handler=run_purge)

    erase = commands.add_parser("forget", help="erase one customer everywhere (trackers, "
                                               "exchange log, handoffs, CRM links)")
    erase.add_argument("customer", help="CRM customer id, or the customer's e-mail address")
    erase.set_defaults(handler=run_forget)

    dump = commands.add_parser("export", help="everything held about one customer, as JSON")
    dump.add_argument("customer", help="CRM customer id, or the customer's e-mail address")
    dump.add_argument("--out", metavar="FILE", help="write here (default: stdout); the file "
                                                    "is readable by its owner only")
    dump.set_defaults(handler=run_export)
    return privacy


def _with_stores(settings: Settings, work: Callable[["PrivacyStores"], T]) -> T:
    from bot.insight.privacy import PrivacyStores

    stores = PrivacyStores.open(settings)
    try:
        return work(stores)
    except SQLAlchemyError as error:
        raise StoreUnavailable(f"a database failed ({type(error).__name__}); nothing more "
                               "was changed, run the command again") from error
    finally:
        stores.close()


def run_purge(settings: Settings, args: argparse.Namespace) -> int:
    from bot.insight.privacy import purge

    report = _with_stores(settings, lambda stores: purge(stores, settings.retention_days))
    print("\n".join(report.lines()))
    return 0


def run_forget(settings: Settings, args: argparse.Namespace) -> int:
    from bot.insight.privacy import forget

    report = _with_stores(settings, lambda stores: forget(stores, args.customer))
    print("\n".join(report.lines()))
    return 0


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.insight.privacy import export, export_json

    text = export_json(_with_stores(settings, lambda stores: export(stores, args.customer)))
    if not args.out:
        sys.stdout.write(text + "\n")
        return 0
    path = Path(args.out)
    try:
        # Personal data: never through a symlink, and private even if the file was not.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(descriptor, 0o600)
            handle.write(text + "\n")
    except OSError as error:
        raise ExportNotWritten(f"cannot write {path}: {error.strerror}") from error
    print(f"exported to {path}", file=sys.stderr)
    return 0
