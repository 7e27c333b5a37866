"""`rapport insight report`: the known week as report.html (self-contained) and report.md."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Callable

import pytest

from bot.database import make_engine
from bot.insight.report import read_insight, render_markdown, write_report
from bot.insight.report_cli import add_insight_commands
from bot.ops import cli
from tests.bot.insight.known_exchanges import HUB_WITH_LOG, WEEK, add_known_exchanges
from tests.support import PROJECT
from tests.support.postgres import DbSchema

GENERATED = datetime(2026, 11, 30, 9)
# Anything a browser would fetch: src/href/action to a URL, CSS imports and url(), scripts.
FETCHES = re.compile(r"""(?:src|href|action|xlink:href)\s*=\s*["']?\s*(?:https?:)?//|@import|"""
                     r"""url\(|<script|<link|<iframe|<object|<embed""", re.IGNORECASE)


@pytest.fixture
def hub_url(make_db_url: Callable[[DbSchema], str]) -> str:
    url = make_db_url(HUB_WITH_LOG)
    engine = make_engine(url)
    add_known_exchanges(engine)
    engine.dispose()
    return url


@pytest.fixture
def rapport(monkeypatch, tmp_path: Path, hub_url: str) -> Callable[..., int]:
    """`rapport insight …` through the real CLI entry point, on this test's hub database."""
    monkeypatch.setenv("RAPPORT_HOME", str(PROJECT))
    monkeypatch.setenv("RAPPORT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RAPPORT_HUB_DB_URL", hub_url)
    monkeypatch.setattr(cli, "_plugin_commands", lambda: [add_insight_commands])
    return lambda *argv: cli.main(["insight", "report", *argv])


def test_the_report_is_written_and_self_contained(rapport, tmp_path, capsys):
    out = tmp_path / "report"
    assert rapport("--since", "2026-11-01", "--until", "2026-11-07", "--out", str(out)) == 0
    assert f"wrote {out / 'report.html'}" in capsys.readouterr().out
    html = (out / "report.html").read_text(encoding="utf-8")
    assert FETCHES.search(html) is None, FETCHES.search(html)
    assert "<style>" in html and html.count("<svg") == 6  # every chart inline
    assert "From 2026-11-01 00:00 to 2026-11-08 00:00 UTC, all channels" in html
    assert ">75.0%<" in html  # containment: 6 of 8
    assert ">33.3%<" in html  # service recovery: 1 of 3 complaints
    assert "1 of 3 complaints" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| Conversations | 8 | started in the period |" in markdown
    assert "| Containment | 75.0% | 6 resolved without a person |" in markdown
    assert "| Handoff wait | 1 min 45 s | average until claimed; 2 claimed |" in markdown
    assert "| Kettle | damaged | 1 |" in markdown
    assert "<script>" not in markdown and "\\<script\\>" in markdown


def test_one_channel(rapport, tmp_path):
    out = tmp_path / "telegram"
    assert rapport("--since", "2026-11-01", "--until", "2026-11-07", "--channel", "telegram",
                   "--out", str(out)) == 0
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "channel telegram" in markdown
    assert "| Conversations | 3 | started in the period |" in markdown
    assert "| Handoff wait | 2 min 30 s | average until claimed; 1 claimed |" in markdown


@pytest.mark.parametrize("since", ["yesterday", "7w", "2026-02-30"])
def test_a_bad_since_is_one_clear_error_and_exit_2(rapport, tmp_path, capsys, since):
    out = tmp_path / "never"
    assert rapport("--since", since, "--out", str(out)) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"rapport: error: cannot read {since!r} as a time")
    assert not out.exists()


def test_until_before_since_is_an_error(rapport, tmp_path, capsys):
    assert rapport("--since", "2026-11-08", "--until", "2026-11-01",
                   "--out", str(tmp_path / "x")) == 2
    assert "the period is empty" in capsys.readouterr().err


def test_a_directory_that_cannot_be_written_is_an_error(rapport, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert rapport("--since", "7d", "--out", str(blocker / "report")) == 2
    assert "cannot write the report" in capsys.readouterr().err


def test_an_empty_log_still_gives_a_report(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables at all yet
    data = read_insight(engine, WEEK)
    engine.dispose()
    html_path, md_path = write_report(data, tmp_path / "out", GENERATED)
    assert "No data in this period." in html_path.read_text(encoding="utf-8")
    assert "| Conversations | 0 | started in the period |" in render_markdown(data, GENERATED)
    assert md_path.exists()
