"""The spaCy pipeline built from brand data finds products, issue types, amounts, dates."""

import pytest
import spacy

from bot.ops.spacy_pipeline import build_pipeline, is_up_to_date


@pytest.fixture(scope="module")
def nlp(tmp_path_factory, brand):
    target = tmp_path_factory.mktemp("spacy") / "en_rapport"
    build_pipeline(brand, target)
    assert is_up_to_date(brand, target)
    return spacy.load(target)


def entities(nlp, text):
    return {(ent.label_, ent.text.lower()) for ent in nlp(text).ents}


def test_products_by_alias(nlp):
    assert ("product", "kettle") in entities(nlp, "my Kettle arrived broken")
    assert ("product", "oak chopping board") in entities(nlp, "The Oak Chopping Board is cracked")


def test_issue_types(nlp):
    found = entities(nlp, "the parcel is still not here and the lamp was damaged")
    assert ("issue_type", "still not here") in found and ("issue_type", "damaged") in found


def test_amounts_and_dates(nlp):
    found = entities(nlp, "I was charged €89.90 twice on Friday 20 November")
    assert found == {("amount", "€89.90"), ("date", "friday 20 november")}


def test_rebuild_is_detected_when_the_catalogue_changes(brand, tmp_path):
    from dataclasses import replace

    target = tmp_path / "p"
    build_pipeline(brand, target)
    changed = replace(brand, products=brand.products[:-1])
    assert not is_up_to_date(changed, target)
