"""The exchange log at scale: ingestion rate, and every dashboard request's time, at 1M turns.

For each database (SQLite file; PostgreSQL: a fresh, uniquely named database, dropped after):
generates realistic Rasa traffic over the last 90 days (`insight_traffic.py`), records it
through the real `ExchangeLog.record_many_sync` in batches of 500 events as the SQL broker
consumer does (JSON text, with the consumer's position), and writes the handoffs those
conversations made to the hub's `handoffs` table. Then (PostgreSQL: VACUUM ANALYZE, what
autovacuum does to a table this size) it starts the real hub app on an aiohttp test server,
signs in an analyst made with the project's `AgentDirectory`, and times each dashboard
request (median of 3, on the client side: the whole HTTP answer): the dashboard over 7, 30
and 90 days, all channels and one; the drill-down lists behind a few of its tiles and
charts; a transcript (page and API); the analyst API's filtered CSV exports (limit 100).

    .venv/bin/python benchmarks/insight.py [--db sqlite|postgresql|both] [--turns 1000000]
        [--out benchmarks/results/insight.json]

Results: per database `ingest_events_per_s`, `requests` (seconds each) and
`dashboard_max_query_s`; at the top, the lowest ingestion rate and the highest request
time over the databases. Targets (issue 8): >= 5,000 events/s, every request <= 0.25 s.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import os
import platform
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlencode

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = PROJECT / "benchmarks" / "results" / "insight.json"
DEFAULT_PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
BATCH = 500  # events per transaction, as bot.insight.consumer.BATCH
RUNS = 3  # timed runs per request; the median is reported
TARGET_EVENTS_PER_S = 5000
TARGET_REQUEST_S = 0.25
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


# -- databases ----------------------------------------------------------------------------

def _pg_admin(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url, future=True, isolation_level="AUTOCOMMIT")


def _create_pg(admin_url: str) -> str:
    from sqlalchemy import text

    name = f"rapport_bench_insight_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin(admin_url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.dispose()


def _drop_pg(admin_url: str, url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin = _pg_admin(admin_url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" '
                                    "WITH (FORCE)"))
    finally:
        admin.dispose()


# -- ingestion ----------------------------------------------------------------------------

def ingest(url: str, turns: int, now: datetime, most_events: Optional[int] = None
           ) -> dict[str, Any]:
    """Record the traffic through the ExchangeLog (its first `most_events` only, if given);
    the time spent in it, and what was made."""
    from sqlalchemy import func, insert, select

    from bot.database import make_engine
    from bot.handoff.tables import create_hub_tables, handoffs
    from bot.insight.exchange_log import ExchangeLog
    from bot.insight.tables import conversations, create_insight_tables
    from bot.insight.tables import turns as turns_table
    from insight_traffic import Traffic

    engine = make_engine(url)
    create_hub_tables(engine)
    create_insight_tables(engine)
    exchange_log = ExchangeLog(engine)
    traffic = Traffic(turns, now - timedelta(days=90), now)
    spent, events, changed = 0.0, 0, 0
    last_report = time.monotonic()
    for batch in traffic.batches(BATCH):
        started = time.perf_counter()
        changed += exchange_log.record_many_sync(batch, "sql-broker",
                                                 position=("benchmark", events + len(batch)))
        spent += time.perf_counter() - started
        events += len(batch)
        if time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            print(f"  {events:,} events, {events / spent:,.0f}/s", flush=True)
        if most_events is not None and events >= most_events:
            break
    with engine.begin() as connection:
        connection.execute(insert(handoffs), [
            {"id": made.handoff_id, "conversation_id": made.conversation_id,
             "channel": made.channel, "state": made.state, "reason": "customer asked for a person",
             "created_at": made.created_at, "assigned_at": made.assigned_at,
             "closed_at": made.assigned_at} for made in traffic.handoffs])
        stored_turns = connection.scalar(select(func.count()).select_from(turns_table))
        stored_conversations = connection.scalar(select(func.count()).select_from(conversations))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return {"events": events, "turns_generated": traffic.turns,
            "conversations_generated": traffic.conversations,
            "turns_stored": stored_turns, "conversations_stored": stored_conversations,
            "events_changing_the_log": changed, "handoffs": len(traffic.handoffs),
            "ingest_seconds": spent, "ingest_events_per_s": events / spent}


def copy_log(source_url: str, url: str) -> float:
    """Copy the exchange log and handoffs made by `ingest` into another database with
    multi-row INSERTs; seconds taken. The rows are the ExchangeLog's own, so the copy holds
    exactly what recording the same traffic there makes (the per-day rollups are left to
    the first dashboard read, as after `ingest`)."""
    from sqlalchemy import insert, select

    from bot.database import make_engine
    from bot.handoff.tables import create_hub_tables, handoffs
    from bot.insight.tables import conversations, create_insight_tables, positions, turns

    started = time.perf_counter()
    source, target = make_engine(source_url), make_engine(url)
    create_hub_tables(target)
    create_insight_tables(target)
    with source.connect() as reading, target.begin() as writing:
        for table in (conversations, turns, positions, handoffs):
            columns = [column for column in table.columns if column.name != "id"
                       or table is not turns]
            rows = reading.execute(select(*columns).order_by(*table.primary_key.columns))
            while True:
                chunk = rows.fetchmany(20_000)
                if not chunk:
                    break
                writing.execute(insert(table), [dict(row._mapping) for row in chunk])
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    source.dispose()
    target.dispose()
    return time.perf_counter() - started


# -- requests -----------------------------------------------------------------------------

def _tile_link(page: str, name: str) -> str:
    found = re.search(r'<a class="tile" href="([^"]+)">\s*<span class="name">'
                      + re.escape(name) + r'</span>', page)
    if not found:
        raise SystemExit(f"benchmark: the dashboard has no tile {name!r}")
    return html.unescape(found.group(1))


def _link_with(page: str, *parts: str) -> str:
    for href in re.findall(r'href="([^"]+)"', page):
        link = html.unescape(href)
        if all(part in link for part in parts):
            return link
    raise SystemExit(f"benchmark: the dashboard links nowhere with {parts}")


async def time_requests(settings: Any, now: datetime) -> tuple[float, dict[str, float]]:
    """The first 90-day dashboard's time (it adds up the rollups of every settled day), and
    then each request's median time (seconds) on the real hub, signed in as an analyst."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.channel_registry import ChannelRegistry
    from bot.hub import keys
    from bot.hub.app import create_app

    app = create_app(settings, channels=ChannelRegistry([]))
    password = secrets.token_urlsafe(16)
    async with TestClient(TestServer(app)) as client:
        await app[keys.AGENTS].add("bench-analyst", "analyst", password)
        login = await (await client.get("/login")).text()
        token = re.search(r'name="login_token" value="([^"]+)"', login).group(1)
        signed = await client.post("/login", allow_redirects=False, data={
            "name": "bench-analyst", "password": password, "login_token": token,
            "next": "/console"})
        if signed.status != 303:
            raise SystemExit(f"benchmark: the analyst could not sign in ({signed.status})")

        async def get(path: str) -> str:
            answer = await client.get(path)
            body = await answer.text()
            if answer.status != 200:
                raise SystemExit(f"benchmark: {path} answered {answer.status}: {body[:300]}")
            return body

        started = time.perf_counter()
        quarter = await get("/console/dashboard?since=90d")
        first_view = time.perf_counter() - started
        print(f"  first 90-day dashboard (adds up the rollups): {first_view:.2f} s", flush=True)
        month = await get("/console/dashboard?since=30d")
        drilled = await get(_tile_link(month, "Escalation"))
        transcript = html.unescape(re.search(
            r'href="(/console/insight/conversations/[^"?]+)"', drilled).group(1))
        conversation_id = transcript.rsplit("/", 1)[1]
        month_start = (now - timedelta(days=30)).date().isoformat()
        api = "/api/insight/conversations?"
        paths = {
            "dashboard_7d": "/console/dashboard?since=7d",
            "dashboard_30d": "/console/dashboard?since=30d",
            "dashboard_90d": "/console/dashboard?since=90d",
            "dashboard_7d_webchat": "/console/dashboard?since=7d&channel=webchat",
            "dashboard_90d_telegram": "/console/dashboard?since=90d&channel=telegram",
            "drill_30d_conversations": _tile_link(month, "Conversations"),
            "drill_30d_escalation": _tile_link(month, "Escalation"),
            "drill_30d_fallback_rate": _tile_link(month, "Fallback rate"),
            "drill_30d_service_recovery": _tile_link(month, "Service recovery"),
            "drill_90d_intent": _link_with(quarter, "intent="),
            "drill_90d_product_complaints": _link_with(quarter, "product=", "complaint=yes"),
            "transcript_page": transcript,
            "transcript_api": f"/api/insight/conversations/{conversation_id}",
            "api_csv_30d_telegram_escalated": api + urlencode({
                "since": month_start, "channel": "telegram", "outcome": "escalated",
                "format": "csv", "limit": 100}),
            "api_csv_negative_with_handoff": api + urlencode({
                "sentiment": "negative", "handoff": "yes", "format": "csv", "limit": 100}),
            "api_csv_30d_intent_complain": api + urlencode({
                "since": month_start, "intent": "complain", "format": "csv", "limit": 100}),
            "api_csv_product_kettle": api + urlencode({
                "product": "kettle", "format": "csv", "limit": 100}),
        }
        timed: dict[str, float] = {}
        for name, path in paths.items():
            runs = []
            for _ in range(RUNS):
                started = time.perf_counter()
                await get(path)
                runs.append(time.perf_counter() - started)
            timed[name] = statistics.median(runs)
            print(f"  {name}: {timed[name] * 1000:.0f} ms", flush=True)
    return first_view, timed


def hub_settings(url: str, workdir: Path) -> Any:
    from bot.settings import Settings

    return Settings.from_env({
        "RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(workdir),
        "RAPPORT_HUB_DB_URL": url, "RAPPORT_EVENTS_DB": str(workdir / "events.db"),
        "RAPPORT_CRM_URL": f"sqlite:///{workdir / 'crm.db'}",
        "RAPPORT_RASA_JWT_SECRET": secrets.token_urlsafe(24),
        "RAPPORT_HUB_SECRET": secrets.token_urlsafe(24), "RAPPORT_LOG_LEVEL": "WARNING"})


# -- one database, all of them ------------------------------------------------------------

def run_one(kind: str, args: argparse.Namespace, now: datetime, workdir: Path
            ) -> dict[str, Any]:
    """One database: ingestion, then the requests. The SQLite file stays in `workdir` for
    PostgreSQL's bulk load."""
    sqlite_url = f"sqlite:///{workdir / 'hub.db'}"
    if kind == "sqlite":
        print(f"sqlite: ingesting {args.turns:,} turns", flush=True)
        result = ingest(sqlite_url, args.turns, now)
        url = sqlite_url
    elif not args.pg_measured_events:  # everything through ExchangeLog on PostgreSQL
        url = _create_pg(args.pg_admin_url)
        print(f"postgresql: ingesting {args.turns:,} turns", flush=True)
        result = ingest(url, args.turns, now)
    else:
        measured_url = _create_pg(args.pg_admin_url)
        try:
            print(f"postgresql: ingesting the first {args.pg_measured_events:,} events of "
                  f"{args.turns:,} turns", flush=True)
            measured = ingest(measured_url, args.turns, now, args.pg_measured_events)
        finally:
            _drop_pg(args.pg_admin_url, measured_url)
        if not (workdir / "hub.db").exists():  # --db postgresql: make the rows on SQLite first
            print("postgresql: recording the whole traffic on SQLite, to copy it", flush=True)
            ingest(sqlite_url, args.turns, now)
        url = _create_pg(args.pg_admin_url)
        print("postgresql: bulk-loading the rest", flush=True)
        result = {**ingest_totals(sqlite_url),
                  "ingest_measured_events": measured["events"],
                  "ingest_seconds": measured["ingest_seconds"],
                  "ingest_events_per_s": measured["ingest_events_per_s"],
                  "bulk_load_seconds": copy_log(sqlite_url, url),
                  "ingest_note": f"ingest_events_per_s is the rate of the first "
                                 f"{measured['events']:,} events through ExchangeLog on "
                                 "PostgreSQL (in a database of their own); the database timed "
                                 "holds the whole traffic, recorded through ExchangeLog on "
                                 "SQLite and its rows copied with multi-row INSERTs (copy_log)"}
    try:
        print(f"{kind}: {result['events']:,} events at {result['ingest_events_per_s']:,.0f}/s;"
              " timing requests", flush=True)
        first_view, requests = asyncio.run(time_requests(hub_settings(url, workdir), now))
    finally:
        if kind == "postgresql":
            _drop_pg(args.pg_admin_url, url)
    return {**result, "first_view_s": first_view, "requests": requests,
            "dashboard_max_query_s": max(requests.values())}


def ingest_totals(url: str) -> dict[str, Any]:
    """What the SQLite run stored, for the PostgreSQL copy's record."""
    from sqlalchemy import func, select

    from bot.database import make_engine
    from bot.handoff.tables import handoffs
    from bot.insight.tables import conversations, positions, turns

    engine = make_engine(url)
    with engine.connect() as connection:
        totals = {"turns_stored": connection.scalar(select(func.count()).select_from(turns)),
                  "conversations_stored": connection.scalar(
                      select(func.count()).select_from(conversations)),
                  "handoffs": connection.scalar(select(func.count()).select_from(handoffs)),
                  "events": connection.scalar(select(positions.c.position))}
    engine.dispose()
    return totals


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN,
                        help="a PostgreSQL URL allowed to create and drop databases")
    parser.add_argument("--pg-measured-events", type=int, default=200_000,
                        help="PostgreSQL: events recorded through ExchangeLog and timed; the "
                             "rest of the traffic is bulk-loaded (its rows made by ExchangeLog "
                             "on SQLite)")
    args = parser.parse_args(argv)
    if args.turns < 1000:
        parser.error("--turns must be at least 1000")
    logging.basicConfig(level=logging.WARNING)
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory(prefix="rapport-bench-insight-") as tmp:
        per_db = {kind: run_one(kind, args, now, Path(tmp)) for kind in kinds}
    command = "python benchmarks/insight.py" + "".join(
        f" {flag} {value}" for flag, value, default in (
            ("--db", args.db, "both"), ("--turns", args.turns, 1_000_000),
            ("--out", args.out, DEFAULT_OUTPUT)) if value != default)
    first = per_db.get("sqlite") or next(iter(per_db.values()))
    results = {
        "benchmark": "exchange log ingestion and dashboard requests (issue 8)",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "turns": first["turns_stored"], "events": first["events"],
        "targets": {"ingest_events_per_s": TARGET_EVENTS_PER_S,
                    "dashboard_max_query_s": TARGET_REQUEST_S},
        "method": "events recorded through ExchangeLog.record_many_sync in batches of "
                  f"{BATCH} (JSON text, as the SQL broker consumer); ingestion time is the time "
                  "inside those calls only. Requests through the real hub app (aiohttp test "
                  f"server, signed-in analyst), median of {RUNS}, whole HTTP answer, after a "
                  "first 90-day dashboard (first_view_s, not in requests) that adds up the "
                  "per-day rollups of every settled day. PostgreSQL: VACUUM ANALYZE after "
                  "loading.",
        "load_average_1m_at_end": os.getloadavg()[0],
        **per_db,
        "ingest_events_per_s": min(r["ingest_events_per_s"] for r in per_db.values()),
        "dashboard_max_query_s": max(r["dashboard_max_query_s"] for r in per_db.values()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for kind, result in per_db.items():
        slowest = max(result["requests"], key=result["requests"].get)
        print(f"{kind}: {result['ingest_events_per_s']:,.0f} events/s; slowest request "
              f"{slowest} {result['dashboard_max_query_s']:.3f} s")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
