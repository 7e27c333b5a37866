"""`rapport crm seed|import|upgrade`: the CRM's commands, added to the main CLI's parser.

`bot.ops.cli` calls `add_crm_commands(subparsers)` and then `args.handler(settings, args)`;
each handler returns an exit code and reports a failure as one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any, Callable

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.brand import BrandDataError, load_brand
from bot.database import make_engine
from bot.crm.importer import CsvImportError, import_csv
from bot.crm.interface import CrmError
from bot.crm.upgrade import SchemaError, upgrade_schema
from bot.crm.seed import SeedError, seed_demo
from bot.settings import Settings

EXPECTED = (SeedError, CsvImportError, SchemaError, BrandDataError, CrmError, SQLAlchemyError,
            ArgumentError, OSError, ValueError)


def add_crm_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add `crm` with its `seed`, `import` and `upgrade` subcommands."""
    crm = subparsers.add_parser("crm", help="manage the CRM database (RAPPORT_CRM_URL)")
    commands = crm.add_subparsers(dest="crm_command", metavar="COMMAND", required=True)

    upgrade = commands.add_parser("upgrade", help="create or migrate the CRM schema")
    upgrade.set_defaults(handler=run_upgrade)

    seed = commands.add_parser("seed", help="fill the CRM with reproducible demo data")
    seed.add_argument("--customers", type=int, default=300, help="how many (default 300)")
    seed.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    seed.add_argument("--today", type=date.fromisoformat, default=None,
                      help="date the demo is relative to (YYYY-MM-DD, default today)")
    seed.add_argument("--force", action="store_true", help="delete existing CRM data first")
    seed.set_defaults(handler=run_seed)

    load = commands.add_parser("import", help="import customers, products, orders from CSV")
    load.add_argument("--customers", metavar="FILE", help="customers CSV")
    load.add_argument("--products", metavar="FILE", help="products CSV")
    load.add_argument("--orders", metavar="FILE", help="orders CSV (one row per order line)")
    load.set_defaults(handler=run_import)
    return crm


def _guarded(command: Callable[[Settings, argparse.Namespace], int]
             ) -> Callable[[Settings, argparse.Namespace], int]:
    def handler(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return command(settings, args)
        except CsvImportError as error:
            print(f"error: {error}:", file=sys.stderr)
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)
            return 1
        except EXPECTED as error:
            print(f"error: {_one_line(error)}", file=sys.stderr)
            return 1
    handler.__name__ = handler.__qualname__ = command.__name__
    handler.__doc__ = command.__doc__
    return handler


def _one_line(error: BaseException) -> str:
    if isinstance(error, SQLAlchemyError):
        orig = getattr(error, "orig", None)
        detail = str(orig if orig is not None else error).strip().splitlines()
        return f"CRM database: {detail[0] if detail else type(error).__name__}"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _where(settings: Settings) -> str:
    return make_url(settings.crm_url).render_as_string(hide_password=True)


@_guarded
def run_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    """Bring the CRM database to the newest schema."""
    revision = upgrade_schema(settings.crm_url)
    print(f"CRM schema at revision {revision} ({_where(settings)})")
    return 0


@_guarded
def run_seed(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate, then write the demo data set."""
    brand = load_brand(settings.home / "brand")
    upgrade_schema(settings.crm_url)
    engine = make_engine(settings.crm_url)
    try:
        summary = seed_demo(engine, brand, customers=args.customers, seed=args.seed,
                            today=args.today, reset=args.force)
    finally:
        engine.dispose()
    print(f"seeded {summary.customers} customers, {summary.orders} orders, "
          f"{summary.cases} cases, {summary.products} products into {_where(settings)}")
    return 0


@_guarded
def run_import(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate, then import the CSV files given (all or nothing)."""
    if not (args.customers or args.products or args.orders):
        print("error: give at least one of --customers, --products, --orders", file=sys.stderr)
        return 2
    upgrade_schema(settings.crm_url)
    engine = make_engine(settings.crm_url)
    try:
        summary = import_csv(engine, customers=args.customers, products=args.products,
                             orders=args.orders)
    finally:
        engine.dispose()
    print(f"imported {summary.customers} customers, {summary.products} products, "
          f"{summary.orders} orders ({summary.order_lines} lines) into {_where(settings)}")
    return 0
