"""The brand's complaint-resolution policy as code: which remedy, which apology, and when a
person takes over.

`load_policy` reads `policies/resolution.yml` (format in `bot.complaints.policy_file`) and
refuses a policy whose rules could contradict each other: two rules that can match the same
complaint need different priorities. `ResolutionPolicy.decide` is pure, so the complaint
action, the agent console and the tests get the same answer for the same facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Iterable, Optional

from bot.complaints.policy_file import (APOLOGY_LEVELS, Adjustment, Condition, PolicyError,
                                   RemedySpec, Rule, PolicySettings, parse_policy)
from bot.complaints.severity import (LEVELS, TIERS, ComplaintFacts, Severity, SeverityWeights,
                          public_threat_reason, score_severity)

DEFAULT_SETTINGS = PolicySettings()
NEVER_STANDARD_OVER = 500.0  # euros; above this the apology is never the standard one
_BASIS_WORDS = {"order": "the order", "item": "the item", "shipping": "shipping",
                "difference": "the amount charged wrongly"}


@dataclass(frozen=True)
class Remedy:
    """A concrete offer, ready for `Crm.make_offer(case_id, kind, amount)`."""

    kind: str  # refund | replacement | voucher | callback
    amount: Optional[float] = None  # euros (refund, voucher); a refund of None: to be confirmed
    basis: Optional[str] = None  # refund: order | item | shipping | difference | fixed
    free_return: bool = False  # replacement
    summary: str = ""  # for the agent and the audit log, e.g. "refund €89.90 (100% of the order)"


@dataclass(frozen=True)
class Decision:
    """What the bot offers for one complaint, and why, for the case record."""

    rule_name: str
    remedies: tuple[Remedy, ...]  # most preferred first; empty means a person decides
    apology: str  # standard | sincere | profound
    handoff: bool
    handoff_reasons: tuple[str, ...]
    adjustments: tuple[str, ...] = ()  # names of the adjustments that applied


def apology_level_for(severity: Severity, order_total: float, *, at_least: str = "standard",
                      settings: PolicySettings = DEFAULT_SETTINGS) -> str:
    """The apology a complaint deserves: the policy's, raised to fit severity and order value.

    The floors in settings are cumulative (a floor for `high` also holds for `critical`), so
    a more severe complaint never gets a smaller apology; and whatever the settings say, a
    critical complaint or an order over €500 never gets the standard one.
    """
    rank = LEVELS.index(severity.level)
    levels = [at_least, *(apology for level, apology in settings.apology_floors
                          if LEVELS.index(level) <= rank)]
    if order_total > settings.profound_for_orders_over:
        levels.append("profound")
    if severity.level == "critical" or order_total > NEVER_STANDARD_OVER:
        levels.append("sincere")
    return max(levels, key=APOLOGY_LEVELS.index)


@dataclass(frozen=True)
class ResolutionPolicy:
    """A checked policy: rules by priority (the fallback last), adjustments, settings."""

    rules: tuple[Rule, ...]
    adjustments: tuple[Adjustment, ...]
    settings: PolicySettings
    severity_weights: SeverityWeights
    source: Path

    def severity_of(self, facts: ComplaintFacts) -> Severity:
        """Severity with this policy's weights (the `severity:` section of the file)."""
        return score_severity(facts, self.severity_weights)

    def rule_for(self, facts: ComplaintFacts) -> Rule:
        """The rule that answers these facts: the first match by priority, else the fallback."""
        return next(rule for rule in self.rules if rule.when.matches(facts))

    def decide(self, facts: ComplaintFacts, severity: Severity) -> Decision:
        """Remedies in euros, the apology and the handoff for one complaint."""
        rule = self.rule_for(facts)
        adjustments = [item for item in self.adjustments if item.when.matches(facts)]
        specs = list(rule.remedies)
        multiplier = 1.0
        for adjustment in adjustments:
            offered = {spec.kind for spec in specs}
            specs += [spec for spec in adjustment.add_remedies if spec.kind not in offered]
            multiplier *= adjustment.voucher_multiplier
            if adjustment.prefer:
                specs.sort(key=lambda spec, kind=adjustment.prefer: spec.kind != kind)
        remedies = tuple(remedy for remedy in (self._price(spec, facts, multiplier)
                                               for spec in specs) if remedy)
        apology = max([rule.apology, *(item.apology for item in adjustments if item.apology)],
                      key=APOLOGY_LEVELS.index)
        reasons = self._handoff_reasons(rule, adjustments, facts, severity)
        if any(remedy.kind == "refund" and remedy.amount is None for remedy in remedies):
            reasons.append("refund amount to be confirmed by a person")
        if not remedies:
            reasons.append("no remedy the policy allows applies")
        return Decision(
            rule_name=rule.name,
            remedies=remedies,
            apology=apology_level_for(severity, facts.order_total, at_least=apology,
                                      settings=self.settings),
            handoff=bool(reasons),
            handoff_reasons=tuple(dict.fromkeys(reasons)),
            adjustments=tuple(item.name for item in adjustments),
        )

    def _handoff_reasons(self, rule: Rule, adjustments: list[Adjustment],
                         facts: ComplaintFacts, severity: Severity) -> list[str]:
        settings = self.settings
        reasons = [f"policy rule: {rule.name}"] if rule.handoff else []
        reasons += [f"policy: {item.name}" for item in adjustments if item.handoff]
        if severity.level in settings.handoff_severities:
            reasons.append(f"{severity.level} severity")
        if settings.handoff_vip and facts.customer_tier == "vip":
            reasons.append("VIP customer")
        if settings.handoff_public_escalation and severity.public_escalation:
            reasons.append(public_threat_reason(severity.signals) or "threat to go public")
        if settings.handoff_legal_threat and "legal" in severity.signals:
            reasons.append("legal threat")
        return reasons

    def _price(self, spec: RemedySpec, facts: ComplaintFacts,
               voucher_multiplier: float) -> Optional[Remedy]:
        """The spec in euros for this complaint; None for a refund that comes to nothing."""
        if spec.kind == "voucher":
            value = spec.value if spec.value is not None else self.settings.voucher_value
            value = _cents(min(self.settings.max_voucher, value * voucher_multiplier))
            return Remedy("voucher", value, summary=f"voucher €{value:.2f}")
        if spec.kind == "replacement":
            return Remedy("replacement", free_return=spec.free_return,
                          summary="replacement" + (" with free return" if spec.free_return
                                                   else ""))
        if spec.kind == "callback":
            return Remedy("callback", summary="a call back from our team")
        if spec.amount is not None:
            basis, base, percent = "fixed", spec.amount, 100.0
        elif spec.of == "item" and facts.item_value is None:  # no line value: the whole order
            basis, base, percent = "order", facts.order_total, spec.percent
        else:
            basis, base, percent = spec.of, self._refund_base(spec.of, facts), spec.percent
        words = _BASIS_WORDS.get(basis, "")
        if percent != 100 or basis in ("order", "item"):
            words = f"{percent:g}% of {words}"
        if base is None:
            return Remedy("refund", None, basis, summary=f"refund of {words} (amount to be "
                                                         "confirmed)")
        cap = spec.cap if spec.cap is not None else math.inf
        amount = _cents(min(base * percent / 100, cap, facts.order_total))
        if amount <= 0:
            return None
        return Remedy("refund", amount, basis, summary=f"refund €{amount:.2f}"
                      + (f" ({words})" if words else ""))

    def _refund_base(self, basis: str, facts: ComplaintFacts) -> Optional[float]:
        if basis == "order":
            return facts.order_total
        if basis == "item":
            return facts.item_value
        if basis == "difference":
            return facts.disputed_amount
        free_over = self.settings.free_shipping_over
        return 0.0 if free_over is not None and facts.order_total >= free_over \
            else self.settings.shipping_cost


def _cents(euros: float) -> float:
    return float(Decimal(str(euros)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def load_policy(path: Path, *, issue_types: Iterable[Any]) -> ResolutionPolicy:
    """Load and check the policy file against the brand's issue types (keys or IssueType)."""
    path = Path(path)
    keys = frozenset(str(getattr(item, "key", item)) for item in issue_types)
    parsed = parse_policy(path, keys)
    problems = _rule_problems(parsed.rules, keys)
    if problems:
        raise PolicyError(path, problems)
    fallback = [rule for rule in parsed.rules if rule.when.matches_everything]
    others = sorted((rule for rule in parsed.rules if not rule.when.matches_everything),
                    key=lambda rule: -rule.priority)  # stable: file order among equals
    return ResolutionPolicy(tuple(others + fallback), parsed.adjustments, parsed.settings,
                            parsed.severity_weights, path)


# --- the rules against each other -------------------------------------------------------------
# A condition is a box: a set of issue types, a set of tiers, a set of warranty answers, and
# three closed intervals (days late, order value to the cent, previous complaints). Two rules
# overlap when their boxes intersect on every dimension, i.e. some complaint matches both.


def _rule_problems(rules: tuple[Rule, ...], issue_types: frozenset[str]) -> list[str]:
    problems = []
    names = [rule.name for rule in rules]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"two rules are named {name!r}; names must be unique (the case "
                        "records which rule decided)")
    fallbacks = [rule.name for rule in rules if rule.when.matches_everything]
    if not fallbacks:
        problems.append("no fallback rule: add a last rule with `when: {}` so that every "
                        "complaint gets an answer")
    problems += [f"rule {name!r}: only one fallback rule (when: {{}}) is allowed, and "
                 f"{fallbacks[0]!r} is one already" for name in fallbacks[1:]]
    others = [rule for rule in rules if not rule.when.matches_everything]
    for index, first in enumerate(others):
        for second in others[index + 1:]:
            example = describe_overlap(first.when, second.when, issue_types)
            if example is None:
                continue
            if first.priority == second.priority:
                problems.append(
                    f"rules {first.name!r} and {second.name!r} overlap: both match {example}. "
                    "Make their conditions exclusive, or give one a higher `priority:`")
                continue
            high, low = sorted((first, second), key=lambda rule: -rule.priority)
            if covers(high.when, low.when, issue_types):
                problems.append(f"rule {low.name!r} can never apply: rule {high.name!r} has a "
                                "higher priority and matches every complaint it matches")
    return problems


def _sets(condition: Condition, issue_types: frozenset[str]) -> tuple[frozenset, ...]:
    warranty = {None: frozenset({True, False})}.get(condition.within_warranty,
                                                    frozenset({condition.within_warranty}))
    return (issue_types if condition.issue_types is None else condition.issue_types,
            frozenset(TIERS) if condition.tiers is None else condition.tiers, warranty)


def _intervals(condition: Condition) -> tuple[tuple[float, float], ...]:
    return condition.days_late, condition.order_value, condition.previous_complaints


def describe_overlap(first: Condition, second: Condition,
                     issue_types: frozenset[str]) -> Optional[str]:
    """None if no complaint matches both; else one complaint that does, in words."""
    sets = [a & b for a, b in zip(_sets(first, issue_types), _sets(second, issue_types))]
    lows = [max(a[0], b[0]) for a, b in zip(_intervals(first), _intervals(second))]
    highs = [min(a[1], b[1]) for a, b in zip(_intervals(first), _intervals(second))]
    if not all(sets) or any(low > high for low, high in zip(lows, highs)):
        return None
    said = ["a complaint" if first.issue_types is None and second.issue_types is None
            else f"a {sorted(sets[0])[0]} complaint"]
    if any(condition.tiers is not None for condition in (first, second)):
        said.append(f"from a {sorted(sets[1])[0]} customer")
    if any(condition.within_warranty is not None for condition in (first, second)):
        said.append("within warranty" if True in sets[2] else "out of warranty")
    defaults = _intervals(Condition())
    words = (lambda days: f"{days:g} day{'s' * (days != 1)} late",
             lambda euros: f"order value €{euros:.2f}",
             lambda count: f"{count:g} previous complaint{'s' * (count != 1)}")
    for index, say in enumerate(words):
        if any(_intervals(condition)[index] != defaults[index] for condition in (first, second)):
            said.append(say(lows[index]))
    return ", ".join(said)


def covers(wide: Condition, narrow: Condition, issue_types: frozenset[str]) -> bool:
    """True if every complaint `narrow` matches is matched by `wide` as well."""
    return (all(n <= w for w, n in zip(_sets(wide, issue_types), _sets(narrow, issue_types)))
            and all(w[0] <= n[0] and n[1] <= w[1]
                    for w, n in zip(_intervals(wide), _intervals(narrow))))
