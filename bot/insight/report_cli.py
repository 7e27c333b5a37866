"""`rapport insight report`: the dashboard as files, added to the main CLI's parser.

`bot.ops.cli` calls `add_insight_commands(subparsers)` and then `args.handler(settings,
args)`. A period that cannot be read, a database that fails or a directory that cannot be
written is a RapportError: one `rapport: error:` line and exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.database import make_engine, naive, utcnow
from bot.settings import Settings


def add_insight_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add `insight` with its `report` subcommand."""
    group = subparsers.add_parser("insight", help="what customers said and how it went")
    commands = group.add_subparsers(dest="insight_command", metavar="COMMAND", required=True)
    report = commands.add_parser(
        "report", help="write the dashboard as report.html (self-contained) and report.md")
    report.add_argument("--since", default="7d",
                        help="start: 7d, 24h, 30d (before now) or a date such as 2026-11-01 "
                             "(default 7d)")
    report.add_argument("--until", default=None,
                        help="end, same forms: a date takes in that whole day, a time is "
                             "exclusive (default now)")
    report.add_argument("--channel", default=None, help="one channel only (e.g. webchat)")
    report.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    report.set_defaults(handler=run_report)
    return group


def run_report(settings: Settings, args: argparse.Namespace) -> int:
    from bot.insight.period import Period
    from bot.insight.report import read_insight, write_report

    now = utcnow()
    period = Period.parse(args.since, args.until, args.channel, now)
    engine = make_engine(settings.hub_db_url)
    try:
        data = read_insight(engine, period)
    finally:
        engine.dispose()
    html_path, md_path = write_report(data, Path(args.out), naive(now))
    print(f"wrote {html_path} and {md_path}")
    return 0
