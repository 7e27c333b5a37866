"""CSV import: good exports load in one go; any bad row is reported and nothing is imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.crm.importer import CsvImportError, import_csv
from bot.crm.sql import SqlCrm

from .helpers import row_counts

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the fixtures run on

CUSTOMERS = """\
id,name,email,phone,postcode,tier,consent_marketing,created_at
shop-1,Marie Curie,marie@example.com,+33 6 11 22 33 44,75005,vip,true,2025-01-02T10:00:00
shop-2,"O'Brien, Niamh",niamh.obrien@example.org,,D02 X285,standard,no,
shop-3,Jan Jansen,JAN@Example.COM,,1012 AB,,,
"""
PRODUCTS = """\
sku,name,category,price
SH-001,Enamel Teapot,tableware,39.50
SH-002,"Linen Apron, natural",textiles,24
"""
ORDERS = """\
number,customer_id,status,placed_at,currency,carrier,shipped_at,promised_date,delivered_at,email,postcode,sku,quantity,unit_price
RP-200001,shop-1,delivered,2026-02-01 09:30,EUR,DPD,2026-02-02T08:00:00Z,2026-02-04,2026-02-04T12:00:00+01:00,marie@example.com,75005,SH-001,2,
RP-200001,shop-1,delivered,2026-02-01 09:30,EUR,DPD,2026-02-02T08:00:00Z,2026-02-04,2026-02-04T12:00:00+01:00,marie@example.com,75005,LO-0026,1,12.00
RP-200002,shop-2,placed,2026-03-01T18:00:00,,,,,,niamh.obrien@example.org,D02 X285,SH-002,1,
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_good_files_import(engine, tmp_path):
    import_csv(engine, products=_write(tmp_path, "catalogue.csv", "sku,name,category,price\n"
                                       "LO-0026,Ceramic Mug,tableware,14.50\n"))
    summary = import_csv(
        engine, customers=_write(tmp_path, "customers.csv", CUSTOMERS),
        products=_write(tmp_path, "products.csv", PRODUCTS),
        orders=_write(tmp_path, "orders.csv", ORDERS),
    )
    assert (summary.customers, summary.products, summary.orders, summary.order_lines) == (
        3, 2, 2, 3)
    crm = SqlCrm(engine)
    order = await crm.get_order("RP-200001")
    assert [(line.sku, line.product_name, line.quantity, line.unit_price) for line in order.lines] == [
        ("SH-001", "Enamel Teapot", 2, 39.5), ("LO-0026", "Ceramic Mug", 1, 12.0)]
    assert order.total == 91.0 and order.carrier == "DPD"
    assert order.delivered_at.hour == 11  # +01:00 stored as UTC
    marie = await crm.get_customer("shop-1")
    assert (marie.tier, marie.consent_marketing) == ("vip", True)
    jan = await crm.get_customer("shop-3")
    assert (jan.email, jan.tier, jan.consent_data_processing) == ("jan@example.com", "standard",
                                                                  True)
    placed = await crm.get_order("RP-200002")
    assert (placed.status, placed.carrier, placed.total, placed.currency) == (
        "placed", None, 24.0, "EUR")


def test_every_bad_row_is_reported_and_nothing_imported(engine, tmp_path):
    customers = _write(tmp_path, "customers.csv", (
        "id,name,email,tier\n"
        "ok-1,Good Customer,good@example.com,standard\n"
        "ok-2,Bad Mail,' OR 1=1 --,standard\n"                     # line 3: e-mail
        "ok-1,Twin,twin@example.com,standard\n"                     # line 4: duplicate id
        f"ok-3,{'N' * 201},long@example.com,standard\n"             # line 5: too long
        "ok-4,Nul\x00Byte,nul@example.com,gold\n"                   # line 6: NUL, tier
        "ok-5,Short Row\n"                                          # line 7: field count
    ))
    products = _write(tmp_path, "products.csv", (
        "sku,name,category,price\n"
        "P-1,Pan,cookware,12,50\n"                                  # line 2: field count
        "P-2,Pot,cookware,12.505\n"                                 # line 3: decimals
        "P-3,Lid,cookware,-1\n"                                     # line 4: negative
        "P-4,Jar,kitchen,9.99\n"
    ))
    orders = _write(tmp_path, "orders.csv", (
        "number,customer_id,status,placed_at,email,postcode,sku,quantity\n"
        "RP-300001,ok-1,delivered,2026-01-05,good@example.com,1000,P-4,1\n"
        "RP-30002,ok-1,delivered,2026-01-05,good@example.com,1000,P-4,1\n"    # 3: number
        "RP-300003,nobody,delivered,2026-01-05,good@example.com,1000,P-4,1\n"  # 4: customer
        "RP-300004,ok-1,delivered,2026-01-05,good@example.com,1000,NOPE,1\n"   # 5: sku
        "RP-300005,ok-1,delivered,05/01/2026,good@example.com,1000,P-4,1\n"    # 6: date
        "RP-300006,ok-1,teleported,2026-01-05,good@example.com,1000,P-4,0\n"   # 7: status, qty
        "RP-300001,ok-1,shipped,2026-01-05,good@example.com,1000,LO-0001,1\n"  # 8: disagrees
    ))
    with pytest.raises(CsvImportError) as caught:
        import_csv(engine, customers=customers, products=products, orders=orders)
    problems = caught.value.problems
    expected = [
        ("customers.csv:3:", "e-mail"), ("customers.csv:4:", "duplicate customer id"),
        ("customers.csv:5:", "longer than 200"), ("customers.csv:6:", "NUL"),
        ("customers.csv:6:", "tier"), ("customers.csv:7:", "expected 4 fields"),
        ("products.csv:2:", "expected 4 fields"), ("products.csv:3:", "two decimals"),
        ("products.csv:4:", "between 0"), ("orders.csv:3:", "order number"),
        ("orders.csv:4:", "unknown customer_id"), ("orders.csv:5:", "unknown sku"),
        ("orders.csv:6:", "not a date-time"), ("orders.csv:7:", "status"),
        ("orders.csv:7:", "quantity"), ("orders.csv:8:", "status different from line 2"),
    ]
    for where, what in expected:
        assert any(p.startswith(where) and what in p for p in problems), (where, what, problems)
    assert not any(p.startswith(("customers.csv:2:", "products.csv:5:", "orders.csv:2:"))
                   for p in problems)
    assert all(count == 0 for count in row_counts(engine).values())


def test_missing_columns_and_unreadable_files(engine, tmp_path):
    with pytest.raises(CsvImportError) as caught:
        import_csv(
            engine, customers=_write(tmp_path, "customers.csv", "id,name\nx,y\n"),
            products=tmp_path / "absent.csv",
            orders=_write(tmp_path, "orders.csv", ""),
        )
    problems = caught.value.problems
    assert "customers.csv:1: missing column(s) email" in problems
    assert any(p.startswith("absent.csv: cannot read") for p in problems)
    assert "orders.csv: empty file (expected a header row)" in problems


def test_not_utf8_and_duplicate_header(engine, tmp_path):
    latin = tmp_path / "customers.csv"
    latin.write_bytes("id,name,email\nc-1,Zoë,zoe@example.com\n".encode("latin-1"))
    products = _write(tmp_path, "products.csv", "sku,name,name,category,price\n")
    with pytest.raises(CsvImportError) as caught:
        import_csv(engine, customers=latin, products=products)
    assert caught.value.problems == [
        "customers.csv:2: not UTF-8 text",
        "products.csv:1: column(s) name appear more than once",
    ]


def test_keys_already_in_the_crm_are_duplicates(engine, tmp_path):
    path = _write(tmp_path, "customers.csv", "id,name,email\nc-1,Ann,ann@example.com\n")
    assert import_csv(engine, customers=path).customers == 1
    before = row_counts(engine)
    with pytest.raises(CsvImportError, match="1 problem") as caught:
        import_csv(engine, customers=path)
    assert caught.value.problems == ["customers.csv:2: customer id 'c-1' is already in the CRM"]
    assert row_counts(engine) == before
