"""Praise and suggestions grouped by product and theme, with a weekly trend and verbatims."""

from __future__ import annotations

from datetime import date, datetime

from bot.database import make_engine
from bot.insight.period import Period
from bot.insight.tables import create_insight_tables
from bot.insight.voice_of_customer import ANY_PRODUCT, voice_of_customer, weeks_of
from tests.bot.insight.exchange_rows import add_conversation

MONTH = Period(datetime(2026, 11, 2), datetime(2026, 11, 16))  # two whole weeks from a Monday


def said(intent: str, text: str, at: datetime, product: str = "") -> dict:
    entities = [{"entity": "product", "value": product}] if product else []
    return {"role": "customer", "intent": intent, "text": text, "at": at, "entities": entities}


def test_groups_by_kind_product_and_theme_with_trend_and_latest_words(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_insight_tables(engine)
    add_conversation(engine, "c1", datetime(2026, 11, 3), turns_said=[
        said("suggest", "you should sell the kettle in black", datetime(2026, 11, 3, 9), "Kettle"),
        said("suggest", "a matte black kettle please", datetime(2026, 11, 10, 9), "Kettle"),
        said("suggest", "sell it in a bigger size", datetime(2026, 11, 11, 9), "Kettle"),
        said("praise", "love the toaster, mail me at [email]", datetime(2026, 11, 12), "Toaster"),
        said("praise", "you are great", datetime(2026, 11, 12, 10)),
        said("complain", "the kettle leaks", datetime(2026, 11, 12, 11), "Kettle"),
        said("praise", "before the period", datetime(2026, 10, 30), "Toaster"),
    ])
    with engine.connect() as connection:
        groups = voice_of_customer(connection, MONTH)
    engine.dispose()
    weeks = weeks_of(MONTH)
    assert weeks == [date(2026, 11, 2), date(2026, 11, 9)]
    found = [(g.kind, g.product, g.theme, g.count, g.trend(weeks), g.verbatims) for g in groups]
    assert found == [
        ("suggestion", "Kettle", "colour", 2, [1, 1],
         ["a matte black kettle please", "you should sell the kettle in black"]),
        ("praise", "Toaster", "quality", 1, [0, 1], ["love the toaster, mail me at [email]"]),
        ("praise", ANY_PRODUCT, "quality", 1, [0, 1], ["you are great"]),
        ("suggestion", "Kettle", "size", 1, [0, 1], ["sell it in a bigger size"]),
    ]


def test_weeks_of_a_period_that_starts_midweek():
    assert weeks_of(Period(datetime(2026, 11, 4), datetime(2026, 11, 10))) == [
        date(2026, 11, 2), date(2026, 11, 9)]
