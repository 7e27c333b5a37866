"""The resolution policy file (`policies/resolution.yml`): its format, checked at start-up.

The brand team edits that file, so every mistake becomes one line naming the file, the rule
and the key ("did you mean 'remedies'?"), all of them at once, instead of a wrong offer at
run time. This module checks each entry; `bot.complaints.policy` checks the rules against each
other (overlaps, the fallback) and turns the policy into decisions.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from bot.complaints.severity import (DEFAULT_WEIGHTS, LEVELS, TIERS, ComplaintFacts, SeverityConfigError,
                          SeverityWeights, weights_with_overrides)
from bot.errors import ContentError

APOLOGY_LEVELS = ("standard", "sincere", "profound")
REMEDY_KINDS = ("refund", "replacement", "voucher", "callback")
REFUND_BASES = ("order", "item", "shipping", "difference")
_REMEDY_KEYS = {"refund": ("percent", "of", "amount", "cap"), "replacement": ("free_return",),
                "voucher": ("value",), "callback": ()}
_RANGES = ("days_late", "order_value", "previous_complaints")
_WHEN_KEYS = ("issue_types", "tiers", "within_warranty",
              *(f"{end}_{name}" for name in _RANGES for end in ("min", "max")))
_RULE_THEN = ("remedies", "apology", "handoff")
_ADJUSTMENT_THEN = ("add_remedies", "apology", "handoff", "voucher_multiplier", "prefer")


class PolicyError(ContentError):
    """The policy file is missing or wrong; `problems` lists every mistake found."""

    def __init__(self, path: Path, problems: Iterable[str]) -> None:
        self.path, self.problems = path, tuple(problems)
        lines = "".join(f"\n  - {problem}" for problem in self.problems)
        super().__init__(f"{path}: {self.problems[0]}" if len(self.problems) == 1
                         else f"{path}: {len(self.problems)} problems:{lines}")


@dataclass(frozen=True)
class Condition:
    """A rule's `when:`, a box over the complaint's facts; None or (0, inf) means any."""

    issue_types: Optional[frozenset[str]] = None
    tiers: Optional[frozenset[str]] = None
    within_warranty: Optional[bool] = None
    days_late: tuple[float, float] = (0, math.inf)  # both ends included
    order_value: tuple[float, float] = (0, math.inf)  # euros, to the cent
    previous_complaints: tuple[float, float] = (0, math.inf)

    @property
    def matches_everything(self) -> bool:
        return self == Condition()

    def matches(self, facts: ComplaintFacts) -> bool:
        warranty = facts.within_warranty is not False  # unknown counts as within warranty
        values = (facts.days_late, round(facts.order_total, 2), facts.complaints_last_90_days)
        return ((self.issue_types is None or facts.issue_type in self.issue_types)
                and (self.tiers is None or facts.customer_tier in self.tiers)
                and self.within_warranty in (None, warranty)
                and all(low <= value <= high for value, (low, high) in
                        zip(values, (self.days_late, self.order_value, self.previous_complaints))))


@dataclass(frozen=True)
class RemedySpec:
    """One remedy as the policy writes it; `bot.complaints.policy` prices it for a complaint."""

    kind: str
    percent: float = 100.0  # refund
    of: str = "item"  # refund: order | item | shipping | difference
    amount: Optional[float] = None  # refund: a fixed sum instead of a percentage
    cap: Optional[float] = None  # refund: never more than this
    value: Optional[float] = None  # voucher; None means settings.voucher_value
    free_return: bool = False  # replacement


@dataclass(frozen=True)
class Rule:
    """Exactly one rule answers a complaint: the matching one with the highest priority."""

    name: str
    when: Condition
    remedies: tuple[RemedySpec, ...]
    apology: str
    handoff: bool = False
    priority: int = 0
    explicit_priority: bool = False


@dataclass(frozen=True)
class Adjustment:
    """Applies on top of the rule to every complaint it matches (e.g. repeat complainers)."""

    name: str
    when: Condition
    add_remedies: tuple[RemedySpec, ...] = ()
    apology: Optional[str] = None  # at least this
    handoff: bool = False
    voucher_multiplier: float = 1.0
    prefer: Optional[str] = None  # move this remedy kind to the front


@dataclass(frozen=True)
class PolicySettings:
    """Global settings; the defaults apply where the file leaves a key out."""

    shipping_cost: float = 4.95
    free_shipping_over: Optional[float] = 50.0  # None: shipping is never free
    voucher_value: float = 10.0
    max_voucher: float = 50.0
    handoff_severities: frozenset[str] = frozenset({"critical"})
    handoff_vip: bool = True
    handoff_public_escalation: bool = True
    handoff_legal_threat: bool = True
    apology_floors: tuple[tuple[str, str], ...] = (("high", "sincere"), ("critical", "profound"))
    profound_for_orders_over: float = 500.0


@dataclass(frozen=True)
class ParsedPolicy:
    settings: PolicySettings
    rules: tuple[Rule, ...]  # in file order
    adjustments: tuple[Adjustment, ...]
    severity_weights: SeverityWeights = field(default=DEFAULT_WEIGHTS)


class _StrictLoader(yaml.SafeLoader):
    """PyYAML silently keeps the last of two equal keys; a policy file must not."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_policy(path: Path, issue_types: frozenset[str]) -> ParsedPolicy:
    """Read and check every entry of a policy file, or raise PolicyError listing all problems."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except FileNotFoundError:
        raise PolicyError(path, ["file not found"]) from None
    except yaml.YAMLError as error:
        raise PolicyError(path, [f"not valid YAML: {error}"]) from None
    return _Parser(path, issue_types).parse(data)


class _Parser:
    def __init__(self, path: Path, issue_types: frozenset[str]) -> None:
        self.path, self.issue_types, self.problems = path, issue_types, []

    def parse(self, data: Any) -> ParsedPolicy:
        if not self._mapping(data, "the file", ("rules",),
                             ("settings", "severity", "rules", "adjustments")):
            raise PolicyError(self.path, self.problems)
        settings = self._settings(data.get("settings") or {})
        try:
            weights = weights_with_overrides(data.get("severity") or {}, self.issue_types)
        except SeverityConfigError as error:
            weights = DEFAULT_WEIGHTS
            self.problems.extend(f"severity: {problem}" for problem in error.problems)
        rules = [self._rule(entry, number, "rule") for number, entry in
                 enumerate(self._list(data["rules"], "rules"), start=1)]
        adjustments = [self._rule(entry, number, "adjustment") for number, entry in
                       enumerate(self._list(data.get("adjustments") or [], "adjustments"), 1)]
        if self.problems:
            raise PolicyError(self.path, self.problems)
        return ParsedPolicy(settings, tuple(rules), tuple(adjustments), weights)

    def _settings(self, data: Any) -> PolicySettings:
        where, default = "settings", PolicySettings()
        self._mapping(data, where, (), ("shipping_cost", "free_shipping_over", "voucher_value",
                                        "max_voucher", "handoff", "apology"))
        if not isinstance(data, dict):
            return default
        handoff, apology = data.get("handoff") or {}, data.get("apology") or {}
        self._mapping(handoff, f"{where}: handoff", (),
                      ("severities", "vip", "public_escalation", "legal_threat"))
        self._mapping(apology, f"{where}: apology", (), (*LEVELS, "profound_for_orders_over"))
        floors = dict(default.apology_floors)
        for level in LEVELS:
            if isinstance(apology, dict) and level in apology:
                floors[level] = self._choice(apology[level], APOLOGY_LEVELS,
                                             f"{where}: apology: {level}", "apology level")
        if floors.get("critical") == "standard":
            self._problem(f"{where}: apology: critical must be sincere or profound; a critical "
                          "complaint never gets the standard apology")
        handoff = handoff if isinstance(handoff, dict) else {}
        apology = apology if isinstance(apology, dict) else {}
        severities = handoff.get("severities", sorted(default.handoff_severities))
        return PolicySettings(
            shipping_cost=self._number(data, "shipping_cost", where, default.shipping_cost),
            free_shipping_over=None if data.get("free_shipping_over", 0) is None else
            self._number(data, "free_shipping_over", where, default.free_shipping_over),
            voucher_value=self._number(data, "voucher_value", where, default.voucher_value),
            max_voucher=self._number(data, "max_voucher", where, default.max_voucher),
            handoff_severities=frozenset(() if severities == [] else self._names(
                severities, LEVELS, f"{where}: handoff: severities", "severity level")),
            handoff_vip=self._bool(handoff, "vip", f"{where}: handoff", True),
            handoff_public_escalation=self._bool(handoff, "public_escalation",
                                                 f"{where}: handoff", True),
            handoff_legal_threat=self._bool(handoff, "legal_threat", f"{where}: handoff", True),
            apology_floors=tuple((level, floors[level]) for level in LEVELS if floors.get(level)),
            profound_for_orders_over=self._number(apology, "profound_for_orders_over",
                                                  f"{where}: apology",
                                                  default.profound_for_orders_over),
        )

    def _rule(self, data: Any, number: int, what: str) -> Any:
        """A Rule (what='rule') or an Adjustment; None, with problems noted, when wrong."""
        name = data.get("name") if isinstance(data, dict) else None
        where = f"{what} {name!r} (#{number})" if name else f"{what} #{number}"
        is_rule = what == "rule"
        if not isinstance(data, dict):
            self._problem(f"{where}: expected name, when and then, got {data!r}")
            return None
        before = len(self.problems)
        allowed = ("name", "priority", "when", "then") if is_rule else ("name", "when", "then")
        self._mapping(data, where, ("name", "when", "then"), allowed)
        when = self._condition(data["when"], f"{where}: when") if "when" in data else Condition()
        then, at = data.get("then", {}), f"{where}: then"
        self._mapping(then, at, ("remedies", "apology") if is_rule else (),
                      _RULE_THEN if is_rule else _ADJUSTMENT_THEN)
        if not isinstance(then, dict):
            return None
        key = "remedies" if is_rule else "add_remedies"
        remedies = self._remedies(then.get(key, []), f"{at}: {key}")
        handoff = self._bool(then, "handoff", at, False)
        apology = None if "apology" not in then else self._choice(
            then["apology"], APOLOGY_LEVELS, f"{at}: apology", "apology level")
        if not is_rule:
            prefer = None if "prefer" not in then else self._choice(
                then["prefer"], REMEDY_KINDS, f"{at}: prefer", "remedy kind")
            multiplier = self._number(then, "voucher_multiplier", at, 1.0)
            return None if len(self.problems) > before else Adjustment(
                str(name), when, remedies, apology, handoff, multiplier, prefer)
        if key in then and not remedies and not handoff:
            self._problem(f"{at}: give at least one remedy, or set handoff: true")
        priority = data.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            self._problem(f"{where}: priority must be a whole number, got {priority!r}")
        elif when.matches_everything and "priority" in data:
            self._problem(f"{where}: the fallback rule (when: {{}}) always comes last; "
                          "remove its priority")
        return None if len(self.problems) > before else Rule(
            str(name), when, remedies, apology, handoff, priority, "priority" in data)

    def _condition(self, data: Any, where: str) -> Condition:
        if data is None:
            self._problem(f"{where}: empty; write `when: {{}}` for the fallback rule")
            return Condition()
        self._mapping(data, where, (), _WHEN_KEYS)
        if not isinstance(data, dict):
            return Condition()
        warranty = data.get("within_warranty")
        if warranty is not None and not isinstance(warranty, bool):
            self._problem(f"{where}: within_warranty must be true or false, got {warranty!r}")
            warranty = None
        ranges = {}
        for dimension in _RANGES:
            whole = dimension != "order_value"
            low = self._number(data, f"min_{dimension}", where, 0, whole)
            high = self._number(data, f"max_{dimension}", where, math.inf, whole)
            if low > high:
                self._problem(f"{where}: min_{dimension} ({low:g}) is more than "
                              f"max_{dimension} ({high:g}), so the rule can never match")
            ranges[dimension] = (low, high)
        sets = {}
        for key, allowed, what in (("issue_types", sorted(self.issue_types), "issue type"),
                                   ("tiers", TIERS, "tier")):
            value = data.get(key, "any")
            sets[key] = None if value == "any" else frozenset(
                self._names(value, tuple(allowed), f"{where}: {key}", what) or ())
        return Condition(within_warranty=warranty, **sets, **ranges)

    def _remedies(self, data: Any, where: str) -> tuple[RemedySpec, ...]:
        specs = []
        for number, entry in enumerate(self._list(data, where), start=1):
            here = f"{where} #{number}"
            kind, params = (entry, {}) if isinstance(entry, str) else (None, None)
            if isinstance(entry, dict) and len(entry) == 1:
                kind, params = next(iter(entry.items()))
            if kind is None:
                self._problem(f"{here}: expected a remedy like `- callback` or "
                              f"`- voucher: {{value: 5}}`, got {entry!r}")
                continue
            kind = self._choice(kind, REMEDY_KINDS, here, "remedy kind")
            at = f"{here} ({kind})"
            params = {} if params is None else params
            if kind is None or not self._mapping(params, at, (), _REMEDY_KEYS[kind]):
                continue
            spec = RemedySpec(kind)
            for key in params:
                if key == "of":
                    spec = replace(spec, of=self._choice(params[key], REFUND_BASES,
                                                         f"{at}: of", "refund basis"))
                elif key == "free_return":
                    spec = replace(spec, free_return=self._bool(params, key, at, False))
                else:
                    spec = replace(spec, **{key: self._number(params, key, at, 0)})
            if spec.percent > 100:
                self._problem(f"{at}: percent is at most 100, got {spec.percent:g}")
            if "amount" in params and {"percent", "of"} & params.keys():
                self._problem(f"{at}: give either amount or percent and of, not both")
            specs.append(spec)
        return tuple(specs)

    # --- small checks: each notes a problem and returns something harmless -----------------

    def _problem(self, message: str) -> None:
        self.problems.append(message)

    def _mapping(self, data: Any, where: str, required: tuple, allowed: tuple) -> bool:
        if not isinstance(data, dict):
            self._problem(f"{where}: expected key: value lines, got {data!r}")
            return False
        before = len(self.problems)
        for key in data:
            if key not in allowed:
                self._choice(key, allowed, where, "key")
        for key in required:
            if key not in data:
                self._problem(f"{where}: missing {key!r}")
        return len(self.problems) == before

    def _list(self, data: Any, where: str) -> list:
        if isinstance(data, list):
            return data
        self._problem(f"{where}: expected a list (lines starting with '- '), got {data!r}")
        return []

    def _choice(self, value: Any, allowed: tuple, where: str, what: str) -> Optional[str]:
        if isinstance(value, str) and value in allowed:
            return value
        hint = difflib.get_close_matches(str(value), allowed, n=1)
        self._problem(f"{where}: unknown {what} {value!r}"
                      + (f" (did you mean {hint[0]!r}?)" if hint
                         else f"; expected one of: {', '.join(allowed)}"))
        return None

    def _names(self, value: Any, allowed: tuple, where: str, what: str) -> list:
        if not isinstance(value, list) or not value:
            self._problem(f"{where}: expected a list like [{allowed[0]}], or the word any")
            return []
        return [self._choice(item, allowed, where, what) for item in value]

    def _number(self, data: dict, key: str, where: str, default: float,
                whole: bool = False) -> float:
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self._problem(f"{where}: {key} must be a number of 0 or more, got {value!r}")
            return default
        if whole and value != int(value):
            self._problem(f"{where}: {key} must be a whole number, got {value!r}")
            return default
        return int(value) if whole else round(float(value), 2)

    def _bool(self, data: dict, key: str, where: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self._problem(f"{where}: {key} must be true or false, got {value!r}")
            return default
        return value
