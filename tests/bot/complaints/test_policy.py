"""The resolution policy (bot/complaints/policy.py, bot/complaints/policy_file.py, policies/resolution.yml)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.brand import load_brand
from bot.complaints.policy import (Decision, ResolutionPolicy, apology_level_for, covers,
                            describe_overlap, load_policy)
from bot.complaints.policy_file import Condition, PolicyError, PolicySettings
from bot.complaints.severity import LEVELS, ComplaintFacts, Severity

from tests.support import PROJECT as ROOT
ISSUE_TYPES = ("late_delivery", "damaged", "wrong_item", "missing_item", "billing_error",
               "poor_quality", "bad_service")
FALLBACK = {"name": "fallback", "when": {}, "then": {"remedies": ["callback"],
                                                     "apology": "sincere", "handoff": True}}


@pytest.fixture(scope="module")
def policy() -> ResolutionPolicy:
    brand = load_brand(ROOT / "brand")
    return load_policy(ROOT / "policies" / "resolution.yml", issue_types=brand.issue_types)


def complaint(issue_type: str, order_total: float = 40.0, **changes: Any) -> ComplaintFacts:
    return replace(ComplaintFacts(issue_type=issue_type, order_total=order_total), **changes)


def offers(decision: Decision) -> list[tuple[str, Any]]:
    return [(remedy.kind, remedy.amount) for remedy in decision.remedies]


# --- the default policy, rule by rule -----------------------------------------------------------
# (facts, rule, [(remedy kind, euros)], apology, handoff reasons)
CASES = [
    (complaint("late_delivery"), "late delivery, not overdue yet",
     [("callback", None)], "standard", ()),
    (complaint("late_delivery", days_late=2), "late delivery, 1-3 days",
     [("voucher", 5.0)], "standard", ()),
    (complaint("late_delivery", 39.90, days_late=5), "late delivery, more than 3 days",
     [("refund", 4.95), ("voucher", 10.0)], "sincere", ()),
    (complaint("late_delivery", 89.90, days_late=5), "late delivery, more than 3 days",
     [("voucher", 10.0)], "sincere", ()),  # shipped free: no shipping to refund
    (complaint("late_delivery", 89.90, days_late=12), "late delivery, 10 days or more "
     "(probably lost)", [("replacement", None), ("refund", 89.90)], "sincere", ()),
    (complaint("missing_item", 120.0, item_value=34.50), "missing item or lost parcel",
     [("replacement", None), ("refund", 34.50)], "sincere", ()),
    (complaint("missing_item", 120.0), "missing item or lost parcel",
     [("replacement", None), ("refund", 120.0)], "sincere", ()),  # lost parcel: whole order
    (complaint("damaged", 89.90), "damaged item",
     [("replacement", None), ("refund", 89.90)], "sincere", ()),
    (complaint("wrong_item", 64.0), "wrong item",
     [("replacement", None), ("refund", 64.0)], "standard", ()),
    (complaint("poor_quality", 49.95), "poor quality, within warranty",
     [("replacement", None), ("refund", 49.95)], "sincere", ()),
    (complaint("poor_quality", 49.95, within_warranty=False), "poor quality, out of warranty",
     [("voucher", 15.0)], "standard", ()),
    (complaint("billing_error", 89.90, disputed_amount=12.50), "billing error",
     [("refund", 12.50)], "sincere", ()),
    (complaint("billing_error", 89.90), "billing error", [("refund", None)], "sincere",
     ("refund amount to be confirmed by a person",)),
    (complaint("bad_service"), "bad service",
     [("voucher", 10.0), ("callback", None)], "sincere", ()),
    (complaint("lost_in_space"), "anything else", [("callback", None)], "sincere",
     ("policy rule: anything else",)),
    # adjustments
    (complaint("damaged", 912.0), "damaged item",
     [("replacement", None), ("refund", 912.0), ("callback", None)], "profound", ()),
    (complaint("late_delivery", 30.0, days_late=2, complaints_last_90_days=2),
     "late delivery, 1-3 days", [("voucher", 10.0)], "sincere",
     ("policy: repeat complainer",)),
    (complaint("damaged", 89.90, complaints_last_90_days=3), "damaged item",
     [("refund", 89.90), ("replacement", None)], "sincere", ("policy: repeat complainer",)),
    (complaint("wrong_item", 64.0, customer_tier="vip"), "wrong item",
     [("replacement", None), ("refund", 64.0)], "sincere", ("VIP customer",)),
]


@pytest.mark.parametrize("facts, rule, remedies, apology, reasons", CASES)
def test_default_policy_decides(policy: ResolutionPolicy, facts: ComplaintFacts, rule: str,
                                remedies: list, apology: str, reasons: tuple) -> None:
    decision = policy.decide(facts, policy.severity_of(facts))
    assert decision.rule_name == rule
    assert offers(decision) == remedies
    assert decision.apology == apology
    assert decision.handoff_reasons == reasons
    assert decision.handoff == bool(reasons)


def test_every_rule_and_adjustment_of_the_default_policy_is_exercised(
        policy: ResolutionPolicy) -> None:
    decisions = [policy.decide(facts, policy.severity_of(facts)) for facts, *_ in CASES]
    assert {rule.name for rule in policy.rules} == {d.rule_name for d in decisions}
    assert {a.name for a in policy.adjustments} == {n for d in decisions for n in d.adjustments}


def test_default_policy_orders_rules_by_priority_with_the_fallback_last(
        policy: ResolutionPolicy) -> None:
    assert policy.rules[0].name == "late delivery, 10 days or more (probably lost)"
    assert policy.rules[-1].when.matches_everything
    assert policy.settings.shipping_cost == 4.95


def test_remedies_explain_themselves(policy: ResolutionPolicy) -> None:
    facts = complaint("late_delivery", 39.90, days_late=5)
    summaries = [r.summary for r in policy.decide(facts, policy.severity_of(facts)).remedies]
    assert summaries == ["refund €4.95 (shipping)", "voucher €10.00"]
    facts = complaint("damaged", 89.90)
    assert policy.decide(facts, policy.severity_of(facts)).remedies[1].summary == \
        "refund €89.90 (100% of the order)"


@pytest.mark.parametrize("facts, reason", [
    (complaint("damaged", texts=("I'll post this on Facebook",)),
     "threat to go public: social media"),
    (complaint("damaged", threatened_public=True), "threat to go public"),
    (complaint("damaged", texts=("my lawyer will hear of this",)), "legal threat"),
    (complaint("late_delivery", 900.0, days_late=14, complaints_last_90_days=1,
               sentiment=-0.9), "critical severity"),
])
def test_settings_hand_off_escalations(policy: ResolutionPolicy, facts: ComplaintFacts,
                                       reason: str) -> None:
    decision = policy.decide(facts, policy.severity_of(facts))
    assert decision.handoff and reason in decision.handoff_reasons


def test_critical_or_high_value_complaints_never_get_the_standard_apology(
        policy: ResolutionPolicy) -> None:
    for facts in (complaint("wrong_item", 64.0, days_late=9, complaints_last_90_days=1,
                            customer_tier="vip", sentiment=-1.0),
                  complaint("wrong_item", 500.01)):
        decision = policy.decide(facts, policy.severity_of(facts))
        assert decision.apology == "profound", facts


def test_apology_grows_with_severity_and_order_value() -> None:
    relaxed = PolicySettings(apology_floors=(), profound_for_orders_over=10_000)
    for settings in (PolicySettings(), relaxed):
        ranks = [apology_level_for(Severity(level, 0, ()), 20.0, settings=settings)
                 for level in LEVELS]
        assert ranks == sorted(ranks, key=("standard", "sincere", "profound").index)
    assert apology_level_for(Severity("critical", 80, ()), 20.0, settings=relaxed) == "sincere"
    assert apology_level_for(Severity("low", 5, ()), 500.01, settings=relaxed) == "sincere"
    assert apology_level_for(Severity("low", 5, ()), 500.00, settings=relaxed) == "standard"
    assert apology_level_for(Severity("low", 5, ()), 600.0) == "profound"
    assert apology_level_for(Severity("medium", 30, ()), 20.0, at_least="sincere") == "sincere"


# --- small policies written for one behaviour ---------------------------------------------------

def write(tmp_path: Path, rules: list, *, fallback: bool = True, **sections: Any) -> Path:
    path = tmp_path / "resolution.yml"
    path.write_text(yaml.safe_dump({**sections, "rules": rules + [FALLBACK] * fallback},
                                   sort_keys=False), encoding="utf-8")
    return path


def load(path: Path) -> ResolutionPolicy:
    return load_policy(path, issue_types=ISSUE_TYPES)


def rule(name: str, *, remedies: Any = ("callback",), apology: str = "standard",
         **when: Any) -> dict:
    return {"name": name, "when": when, "then": {"remedies": list(remedies), "apology": apology}}


def test_refund_parameters_cap_and_fixed_amounts(tmp_path: Path) -> None:
    policy = load(write(tmp_path, [
        rule("half, capped", issue_types=["damaged"],
             remedies=[{"refund": {"percent": 50, "of": "order", "cap": 30}}]),
        rule("fixed", issue_types=["wrong_item"], remedies=[{"refund": {"amount": 15}}]),
    ]))
    for issue, total, amount in (("damaged", 40.0, 20.0), ("damaged", 200.0, 30.0),
                                 ("wrong_item", 40.0, 15.0), ("wrong_item", 9.99, 9.99)):
        facts = complaint(issue, total)
        assert offers(policy.decide(facts, policy.severity_of(facts))) == [("refund", amount)]


def test_vouchers_are_multiplied_then_capped_and_added_remedies_not_repeated(
        tmp_path: Path) -> None:
    path = write(tmp_path, [rule("service", issue_types=["bad_service"],
                                 remedies=[{"voucher": {"value": 20}}, "callback"])],
                 settings={"max_voucher": 50},
                 adjustments=[{"name": "x2", "when": {}, "then": {"voucher_multiplier": 2}},
                              {"name": "x2 again", "when": {},
                               "then": {"voucher_multiplier": 2, "add_remedies": ["callback"]}}])
    policy = load(path)
    facts = complaint("bad_service")
    decision = policy.decide(facts, policy.severity_of(facts))
    assert offers(decision) == [("voucher", 50.0), ("callback", None)]
    assert decision.adjustments == ("x2", "x2 again")


def test_handoff_settings_can_be_switched_off(tmp_path: Path) -> None:
    policy = load(write(tmp_path, [rule("damaged", issue_types=["damaged"])], settings={
        "handoff": {"severities": [], "vip": False, "public_escalation": False,
                    "legal_threat": False}}))
    facts = complaint("damaged", customer_tier="vip",
                      texts=("I'll go to the press", "my lawyer will call"))
    decision = policy.decide(facts, policy.severity_of(facts))
    assert not decision.handoff


# --- overlap ------------------------------------------------------------------------------------

def cond(**when: Any) -> Condition:
    sets = {k: frozenset(v) for k, v in when.items() if k in ("issue_types", "tiers")}
    rest = {k: v for k, v in when.items() if k not in sets}
    return Condition(**sets, **rest)


KEYS = frozenset(ISSUE_TYPES)


@pytest.mark.parametrize("first, second, example", [
    (cond(issue_types={"late_delivery"}, days_late=(1, 3)),
     cond(issue_types={"late_delivery"}, days_late=(3, 9)),
     "a late_delivery complaint, 3 days late"),
    (cond(order_value=(0, 500)), cond(order_value=(500, float("inf"))),
     "a complaint, order value €500.00"),
    (cond(issue_types={"damaged", "wrong_item"}), cond(tiers={"vip"}),
     "a damaged complaint, from a vip customer"),
    (cond(issue_types={"poor_quality"}), cond(issue_types={"poor_quality"}, within_warranty=False),
     "a poor_quality complaint, out of warranty"),
])
def test_overlapping_conditions_are_found_with_an_example(first: Condition, second: Condition,
                                                          example: str) -> None:
    assert describe_overlap(first, second, KEYS) == example
    assert describe_overlap(second, first, KEYS) is not None


@pytest.mark.parametrize("first, second", [
    (cond(days_late=(1, 3)), cond(days_late=(4, float("inf")))),
    (cond(order_value=(0, 500)), cond(order_value=(500.01, float("inf")))),
    (cond(issue_types={"damaged"}), cond(issue_types={"wrong_item"})),
    (cond(tiers={"vip"}), cond(tiers={"standard"})),
    (cond(within_warranty=True), cond(within_warranty=False)),
    (cond(issue_types={"damaged"}, previous_complaints=(0, 1)),
     cond(previous_complaints=(2, float("inf")))),
])
def test_disjoint_conditions_do_not_overlap(first: Condition, second: Condition) -> None:
    assert describe_overlap(first, second, KEYS) is None


def test_covers_compares_every_dimension() -> None:
    assert covers(cond(days_late=(4, 99)), cond(issue_types={"damaged"}, days_late=(10, 20)), KEYS)
    assert covers(cond(issue_types=set(ISSUE_TYPES)), cond(), KEYS)
    assert not covers(cond(days_late=(10, 99)), cond(days_late=(4, 99)), KEYS)
    assert not covers(cond(tiers={"vip"}), cond(), KEYS)


def test_overlapping_rules_of_equal_priority_are_refused_naming_both(tmp_path: Path) -> None:
    path = write(tmp_path, [rule("late, short", issue_types=["late_delivery"], max_days_late=3),
                            rule("big orders", min_order_value=100)])
    with pytest.raises(PolicyError) as error:
        load(path)
    assert "rules 'late, short' and 'big orders' overlap: both match a late_delivery " \
           "complaint, 0 days late, order value €100.00" in str(error.value)
    assert str(path) in str(error.value)


def test_a_different_priority_resolves_an_overlap_and_the_higher_one_wins(
        tmp_path: Path) -> None:
    big = {**rule("big orders", min_order_value=100.01, apology="profound"), "priority": 5}
    policy = load(write(tmp_path, [rule("late", issue_types=["late_delivery"]), big]))
    assert [r.name for r in policy.rules] == ["big orders", "late", "fallback"]
    for total, expected in ((100.00, "late"), (100.01, "big orders")):
        facts = complaint("late_delivery", total)
        assert policy.decide(facts, policy.severity_of(facts)).rule_name == expected


def test_a_rule_hidden_by_a_higher_priority_rule_is_refused(tmp_path: Path) -> None:
    wide = {**rule("all damage", issue_types=["damaged"]), "priority": 1}
    path = write(tmp_path, [wide, rule("expensive damage", issue_types=["damaged"],
                                       min_order_value=200)])
    with pytest.raises(PolicyError, match="rule 'expensive damage' can never apply: rule "
                                          "'all damage' has a higher priority"):
        load(path)


# --- validation: each mistake, one clear message ------------------------------------------------

BROKEN = [
    ([rule("late", issue_types=["late_delivry"])],
     "rule 'late' (#1): when: issue_types: unknown issue type 'late_delivry' "
     "(did you mean 'late_delivery'?)"),
    ([rule("late", remedies=["coupon"])],
     "rule 'late' (#1): then: remedies #1: unknown remedy kind 'coupon'; expected one of: "
     "refund, replacement, voucher, callback"),
    ([rule("late", apology="grovelling")],
     "rule 'late' (#1): then: apology: unknown apology level 'grovelling'"),
    ([rule("late", min_days_late=5, max_days_late=3)],
     "rule 'late' (#1): when: min_days_late (5) is more than max_days_late (3)"),
    ([rule("late", min_order_value=-1)],
     "rule 'late' (#1): when: min_order_value must be a number of 0 or more, got -1"),
    ([rule("late", min_days_late=1.5)],
     "rule 'late' (#1): when: min_days_late must be a whole number, got 1.5"),
    ([rule("late", tiers=["gold"])], "rule 'late' (#1): when: tiers: unknown tier 'gold'"),
    ([rule("late", within_warranty="yes please")],
     "rule 'late' (#1): when: within_warranty must be true or false"),
    ([rule("late", min_day_late=2)],
     "rule 'late' (#1): when: unknown key 'min_day_late' (did you mean 'min_days_late'?)"),
    ([{"name": "late", "when": {}, "then": {"remedys": ["callback"], "apology": "standard"}}],
     "rule 'late' (#1): then: unknown key 'remedys' (did you mean 'remedies'?)"),
    ([{"name": "late", "when": {"issue_types": ["damaged"]}, "then": {"remedies": ["callback"]}}],
     "rule 'late' (#1): then: missing 'apology'"),
    ([{"when": {}, "then": {"remedies": ["callback"], "apology": "standard"}}],
     "rule #1: missing 'name'"),
    ([{"name": "late", "when": None, "then": {"remedies": [], "apology": "standard"}}],
     "rule 'late' (#1): when: empty; write `when: {}` for the fallback rule"),
    ([rule("late", issue_types=["damaged"], remedies=[])],
     "rule 'late' (#1): then: give at least one remedy, or set handoff: true"),
    ([rule("late", remedies=[{"refund": {"percent": 150}}])],
     "rule 'late' (#1): then: remedies #1 (refund): percent is at most 100, got 150"),
    ([rule("late", remedies=[{"refund": {"amount": 5, "of": "order"}}])],
     "give either amount or percent and of, not both"),
    ([rule("late", remedies=[{"refund": {"of": "postage"}}])],
     "remedies #1 (refund): of: unknown refund basis 'postage'"),
    ([rule("late", remedies=[{"voucher": {"amount": 5}}])],
     "remedies #1 (voucher): unknown key 'amount'"),
    ([{**rule("late", issue_types=["damaged"]), "priority": "high"}],
     "rule 'late' (#1): priority must be a whole number, got 'high'"),
    ([rule("late", issue_types=["damaged"]), rule("late", issue_types=["wrong_item"])],
     "two rules are named 'late'"),
    ([{**FALLBACK, "priority": -1}], "the fallback rule (when: {}) always comes last"),
    ([{**FALLBACK, "name": "second fallback"}],
     "rule 'fallback': only one fallback rule (when: {}) is allowed, and 'second fallback'"),
]


@pytest.mark.parametrize("rules, message", BROKEN)
def test_a_broken_rule_is_named_in_the_error(tmp_path: Path, rules: list, message: str) -> None:
    path = write(tmp_path, rules)
    with pytest.raises(PolicyError) as error:
        load(path)
    assert str(error.value).startswith(str(path))
    assert any(message in problem for problem in error.value.problems), error.value.problems


@pytest.mark.parametrize("sections, message", [
    ({"settings": {"voucher_valu": 5}},
     "settings: unknown key 'voucher_valu' (did you mean 'voucher_value'?)"),
    ({"settings": {"handoff": {"vip": "sometimes"}}},
     "settings: handoff: vip must be true or false"),
    ({"settings": {"handoff": {"severities": ["urgent"]}}},
     "settings: handoff: severities: unknown severity level 'urgent'"),
    ({"settings": {"apology": {"critical": "standard"}}},
     "settings: apology: critical must be sincere or profound"),
    ({"severity": {"thresholds": {"high": 10}}}, "severity: thresholds must rise"),
    ({"adjustments": [{"name": "big", "when": {"min_order_value": 500},
                       "then": {"prefer": "cash"}}]},
     "adjustment 'big' (#1): then: prefer: unknown remedy kind 'cash'"),
    ({"rule": []}, "the file: unknown key 'rule' (did you mean 'rules'?)"),
])
def test_a_broken_section_is_named_in_the_error(tmp_path: Path, sections: dict,
                                                message: str) -> None:
    with pytest.raises(PolicyError) as error:
        load(write(tmp_path, [], **sections))
    assert any(message in problem for problem in error.value.problems), error.value.problems


def test_a_policy_without_a_fallback_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=re.escape("no fallback rule: add a last rule with "
                                                    "`when: {}`")):
        load(write(tmp_path, [rule("late", issue_types=["late_delivery"])], fallback=False))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, [rule("a", issue_types=["nope"]), rule("b", apology="meh")])
    with pytest.raises(PolicyError) as error:
        load(path)
    assert len(error.value.problems) == 2
    assert str(error.value).startswith(f"{path}: 2 problems:\n  - rule 'a' (#1)")


@pytest.mark.parametrize("text, message", [
    ("rules: [\n", "not valid YAML"),
    ("rules:\n  - name: a\n    name: b\n    when: {}\n", "key 'name' appears twice"),
    ("- just a list\n", "the file: expected key: value lines"),
])
def test_unreadable_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "resolution.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nowhere\.yml: file not found"):
        load(tmp_path / "nowhere.yml")
