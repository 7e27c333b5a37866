"""Severity scoring and escalation signals (bot/complaints/severity.py): pure, so no fixtures needed."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bot.complaints.severity import (DEFAULT_WEIGHTS, LEVELS, ComplaintFacts, SeverityConfigError,
                          detect_escalation_signals, score_severity, weights_with_overrides)

ISSUE_TYPES = ("late_delivery", "damaged", "wrong_item", "missing_item", "billing_error",
               "poor_quality", "bad_service")


# --- escalation signals -----------------------------------------------------------------------

@pytest.mark.parametrize("text, signal", [
    ("I'm going to post this on Twitter", "social_media"),
    ("Sharing this all over TikTok tonight", "social_media"),
    ("I'll put it on X so everyone sees", "social_media"),
    ("Expect a tweet about this", "social_media"),
    ("I will go viral with this", "public"),
    ("I'll tell everyone I know", "public"),
    ("Leaving a 1 star review on Trustpilot", "reviews"),
    ("I'll write a terrible review on Google", "reviews"),
    ("Bad reviews are coming your way", "reviews"),
    ("I'm contacting the newspaper", "press"),
    ("A journalist friend will love this", "press"),
    ("I'll go to the press", "press"),
    ("I'm calling the TV consumer show", "press"),
    ("My lawyer will be in touch", "legal"),
    ("I will sue you", "legal"),
    ("I'll take you to court", "legal"),
    ("reporting you to consumer protection", "legal"),
    ("the ombudsman will hear about this", "legal"),
    ("I\u2019ll see you in court", "legal"),  # curly apostrophe
    ("THIS IS UNACCEPTABLE", "shouting"),
    ("WHERE IS MY DPD PARCEL", "shouting"),
    ("I LOVE HOW YOU NEVER ANSWER", "shouting"),  # a negative word beats the positive one
    ("this is f***ing ridiculous", "insult"),
    ("what the fuck", "insult"),
    ("f*ck this", "insult"),
    ("sh!t service", "insult"),
    ("you absolute a$$hole", "insult"),
    ("you idiots", "insult"),
])
def test_escalation_signal_is_detected(text: str, signal: str) -> None:
    assert signal in detect_escalation_signals([text])


@pytest.mark.parametrize("text", [
    "DPD",  # one acronym is not shouting
    "my DPD parcel is late",
    "DHL UPS DPD",  # only acronyms
    "I LOVE IT",  # decision: only two shouted words (LOVE, IT); "I" is one letter
    "I HATE IT",  # the same rule, whatever the tone (sentiment scores the tone)
    "THANK YOU SO MUCH",  # capitals with a positive word and no negative one: enthusiasm
    "Order RP-123456 via PostNL",
    "I saw your ad on Facebook",
    "I read the reviews before buying",
    "it came wrapped in newspaper",
    "press the button on the kettle",
    "Sue from support was lovely",
    "I talked to Sue yesterday",
    "we ate at the food court",
    "the pan is a five star product",
    "shiitake mushrooms stuck to the pan",
    "Scunthorpe delivery depot",
    "the fork and the funk playlist",
    "idiot-proof instructions",
    "",
])
def test_harmless_text_raises_no_signal(text: str) -> None:
    assert detect_escalation_signals([text]) == ()


def test_signals_come_once_in_a_fixed_order_across_messages() -> None:
    texts = ["you idiots", "I'll go to the press", "MY LAWYER WILL CALL YOU", "idiots"]
    assert detect_escalation_signals(texts) == ("press", "legal", "shouting", "insult")


# --- scores, levels and reasons -----------------------------------------------------------------

def facts(**changes: object) -> ComplaintFacts:
    return replace(ComplaintFacts(issue_type="damaged", order_total=40.0), **changes)


def test_a_small_calm_late_delivery_is_low_without_reasons() -> None:
    severity = score_severity(facts(issue_type="late_delivery", order_total=20.0))
    assert (severity.level, severity.reasons, severity.signals) == ("low", (), ())


def test_a_damaged_item_with_a_negative_tone_is_medium() -> None:
    severity = score_severity(facts(order_total=89.90, sentiment=-0.3))
    assert severity.level == "medium"
    assert severity.reasons == ("negative sentiment (-0.30)", "order value €89.90")


def test_everything_at_once_is_critical_with_every_reason_biggest_first() -> None:
    severity = score_severity(facts(
        issue_type="late_delivery", order_total=912.0, days_late=9, customer_tier="vip",
        complaints_last_90_days=2, sentiment=-0.82,
        texts=("I am calling the newspaper", "THIS IS A JOKE")))
    assert severity.level == "critical" and severity.score == 100.0
    assert severity.reasons == (
        "threat to go public: press", "9 days late", "order value €912.00",
        "very negative sentiment (-0.82)", "2 previous complaints in 90 days", "VIP customer",
        "shouting (capitals)")


def test_public_or_legal_threats_make_a_complaint_at_least_high() -> None:
    for text in ("I'll post this on Instagram", "my solicitor will write to you"):
        severity = score_severity(facts(issue_type="late_delivery", order_total=10.0,
                                        texts=(text,)))
        assert severity.level == "high", text


def test_nlu_flags_count_like_detected_signals() -> None:
    severity = score_severity(facts(threatened_public=True, insulted=True))
    assert severity.signals == ("public", "insult")
    assert severity.public_escalation
    assert "threat to go public" in severity.reasons
    assert "insults or profanity" in severity.reasons


def test_several_public_channels_are_one_reason_and_count_once() -> None:
    both = score_severity(facts(texts=("posting on twitter and going to the press",)))
    press = score_severity(facts(texts=("going to the press",)))
    assert "threat to go public: social media, press" in both.reasons
    assert both.score == press.score


def test_singular_reasons_read_naturally() -> None:
    severity = score_severity(facts(days_late=1, complaints_last_90_days=1))
    assert {"1 day late", "1 previous complaint in 90 days"} <= set(severity.reasons)


def test_facts_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="days_late"):
        facts(days_late=-1)
    with pytest.raises(ValueError, match="sentiment"):
        facts(sentiment=-1.5)


# --- monotone: more of anything bad never lowers severity ---------------------------------------

def random_facts(rng: random.Random) -> ComplaintFacts:
    texts = rng.choice([(), ("I'll go to the press",), ("you idiots",), ("WHY IS THIS SO LATE",)])
    return ComplaintFacts(
        issue_type=rng.choice((*ISSUE_TYPES, "unknown_type")),
        order_total=round(rng.uniform(0, 1500), 2), days_late=rng.randint(0, 20),
        customer_tier=rng.choice(("standard", "vip")),
        complaints_last_90_days=rng.randint(0, 5), sentiment=round(rng.uniform(-1, 1), 2),
        texts=texts, threatened_public=rng.random() < 0.1, insulted=rng.random() < 0.1)


def worse_versions(base: ComplaintFacts, rng: random.Random) -> list[ComplaintFacts]:
    return [
        replace(base, days_late=base.days_late + rng.randint(1, 10)),
        replace(base, order_total=base.order_total + rng.uniform(0.01, 800)),
        replace(base, complaints_last_90_days=base.complaints_last_90_days + rng.randint(1, 3)),
        replace(base, sentiment=max(-1.0, base.sentiment - rng.uniform(0.01, 1))),
        replace(base, customer_tier="vip"),
        replace(base, texts=(*base.texts, "I will sue you")),
        replace(base, threatened_public=True),
        replace(base, insulted=True),
    ]


def test_severity_is_monotone_in_every_factor() -> None:
    rng = random.Random(20240611)
    for _ in range(400):
        base = random_facts(rng)
        before = score_severity(base)
        for worse in worse_versions(base, rng):
            after = score_severity(worse)
            assert after.score >= before.score, (base, worse)
            assert LEVELS.index(after.level) >= LEVELS.index(before.level), (base, worse)
            assert 0 <= after.score <= 100


def test_level_rises_step_by_step_with_days_late() -> None:
    levels = [score_severity(facts(days_late=days, sentiment=-0.5)).level for days in range(15)]
    ranks = [LEVELS.index(level) for level in levels]
    assert ranks == sorted(ranks)
    assert levels[0] == "medium" and levels[-1] == "high"


# --- weights from the policy file ---------------------------------------------------------------

def test_overrides_merge_with_the_defaults() -> None:
    weights = weights_with_overrides({"thresholds": {"critical": 90}, "vip_points": 30,
                                      "issue_points": {"damaged": 40}}, ISSUE_TYPES)
    assert dict(weights.thresholds) == {"medium": 25, "high": 50, "critical": 90}
    assert weights.issue_points["damaged"] == 40
    assert weights.issue_points["late_delivery"] == DEFAULT_WEIGHTS.issue_points["late_delivery"]
    calm_vip = facts(customer_tier="vip")
    assert score_severity(calm_vip, weights).score == score_severity(calm_vip).score + 40


@pytest.mark.parametrize("overrides, message", [
    ({"vip_pionts": 5}, "unknown key 'vip_pionts' (did you mean 'vip_points'?)"),
    ({"thresholds": {"medium": 60}}, "thresholds must rise"),
    ({"thresholds": {"urgent": 60}}, "thresholds: unknown key 'urgent'"),
    ({"issue_points": {"lost": 20}}, "issue_points: unknown key 'lost'"),
    ({"signal_points": {"press": -5}}, "signal_points: press must be a number of 0 or more"),
    ({"points_per_day_late": "three"}, "points_per_day_late must be a number"),
    ({"escalation_floor": "severe"}, "escalation_floor must be one of"),
])
def test_bad_overrides_are_named(overrides: dict, message: str) -> None:
    with pytest.raises(SeverityConfigError) as error:
        weights_with_overrides(overrides, ISSUE_TYPES)
    assert any(message in problem for problem in error.value.problems), error.value.problems
