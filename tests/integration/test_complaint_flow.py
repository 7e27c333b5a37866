"""Issue acceptance: over REST, with the seeded CRM on SQLite and on PostgreSQL, a customer
verifies, asks for an order, complains about a damaged item, accepts the replacement, rates;
the case, the offer and the CSAT are in the CRM database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.postgres import create_pg_database, drop_pg_database
from tests.support.stack import Stack, stack_env, texts

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def crm_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('crm-sqlite') / 'crm.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    url = create_pg_database(admin, prefix="rapport_flow_test")
    yield url
    drop_pg_database(admin, url)


@pytest.fixture(scope="module")
def stack(crm_url: str, trained_model: Path, tmp_path_factory):
    db_dir = tmp_path_factory.mktemp("complaint-stack")
    with Stack(stack_env(trained_model, db_dir, RAPPORT_CRM_URL=crm_url),
              log_path=db_dir / "rapport-run.log") as stack:
        yield stack


def joined(replies: list[dict]) -> str:
    return " ".join(texts(replies))


def test_verify_order_complain_accept_rate(stack: Stack, crm_url: str):
    who = "flow-ada"
    assert "order number" in joined(stack.say(who, "where is my order?"))
    assert "e-mail" in joined(stack.say(who, "RP-100001"))
    status = joined(stack.say(who, "ada@example.com"))
    assert "Ada" in status and "RP-100001" in status and "DPD" in status

    reply = joined(stack.say(who, "my saucepans from RP-100003 arrived damaged, the lid is bent"))
    assert "sorry" in reply.lower() and "replacement" in reply
    reply = joined(stack.say(who, "yes please"))
    assert "replacement is on its way" in reply and "resolve" in reply
    assert "rate" in joined(stack.say(who, "yes, thanks")).lower()
    assert "Thank you for the feedback" in joined(stack.say(who, "5"))

    engine = create_engine(crm_url, future=True)
    try:
        with engine.connect() as connection:
            case = connection.execute(text(
                "SELECT id, category, status, resolution, resolved, csat, severity "
                "FROM cases WHERE order_number = :order ORDER BY created_at DESC"),
                {"order": "RP-100003"}).mappings().first()
            offers = connection.execute(text(
                "SELECT kind, status FROM offers WHERE case_id = :case"),
                {"case": case["id"]}).all()
    finally:
        engine.dispose()
    assert case["category"] == "damaged" and case["status"] == "resolved"
    assert case["resolution"] == "replacement sent" and bool(case["resolved"]) is True
    assert (case["csat"], case["severity"]) == (5, "medium"), case
    assert [tuple(row) for row in offers] == [("replacement", "accepted")]


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "RP-1'; DROP TABLE orders; --",
                                     "x" * 3000, '"; SELECT * FROM customers; --'])
def test_hostile_order_numbers_are_rejected_cleanly(stack: Stack, hostile: str):
    who = f"hostile-{abs(hash(hostile)) % 10_000}"
    stack.say(who, "where is my order?")
    reply = joined(stack.say(who, hostile))
    # Refused (or, when NLU reads it as another intent, answered and asked again): the format
    # hint comes back, nothing from the CRM does (the brand's own addresses may).
    assert "RP-123456" in reply, reply
    assert "Ada" not in reply and "@example." not in reply and "RP-1000" not in reply
