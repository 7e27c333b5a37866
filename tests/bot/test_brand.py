import pytest

from bot.brand import BrandDataError, load_brand
from tests.conftest import PROJECT


def test_find_product_by_name_alias_or_sentence(brand):
    assert brand.find_product("kettle").sku == brand.find_product("Electric Kettle").sku
    assert brand.find_product("my chef knife is blunt").name == "Chef's Knife 20cm"
    assert brand.find_product("spaceship") is None


@pytest.mark.parametrize("text, key", [
    ("it arrived broken", "damaged"), ("late", "late_delivery"), ("wrong item", "wrong_item"),
    ("charged twice!", "billing_error"), ("the courier was rude", "bad_service"),
    ("damaged item", "damaged"), ("billing", "billing_error"), ("banana", None),
])
def test_issue_type_for(brand, text, key):
    assert brand.issue_type_for(text) == key


def _copy_brand(tmp_path):
    target = tmp_path / "brand"
    target.mkdir()
    for name in ("brand.yml", "catalogue.yml", "issue_types.yml"):
        (target / name).write_text((PROJECT / "brand" / name).read_text())
    return target


def test_broken_files_give_one_clear_error(tmp_path):
    target = _copy_brand(tmp_path)
    (target / "catalogue.yml").write_text("products:\n  - sku: X\n    name: [unclosed\n")
    with pytest.raises(BrandDataError, match="catalogue.yml: not valid YAML"):
        load_brand(target)
    (target / "catalogue.yml").write_text("products:\n  - sku: X\n    name: Lamp\n")
    with pytest.raises(BrandDataError, match="missing category, price"):
        load_brand(target)
    (target / "catalogue.yml").unlink()
    with pytest.raises(BrandDataError, match="file not found"):
        load_brand(target)
