"""How serious a complaint is: a 0–100 score, a level, and the reasons an agent sees.

Pure functions of `ComplaintFacts` (no I/O, no Rasa), so the complaint action, the agent
console and the tests all agree on one answer. Every weight and threshold is in
`SeverityWeights`; the brand may override them in `policies/resolution.yml` (`severity:`).
The score is a sum of non-negative parts, each non-decreasing in its input, so more delay,
more money, more repeat complaints or a more negative tone can never lower it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from difflib import get_close_matches
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional

from bot.errors import ContentError

LEVELS = ("low", "medium", "high", "critical")
TIERS = ("standard", "vip")
SIGNALS = ("public", "social_media", "reviews", "press", "legal", "shouting", "insult")
PUBLIC_SIGNALS = frozenset({"public", "social_media", "reviews", "press"})
_PUBLIC_LABELS = {"social_media": "social media", "reviews": "reviews", "press": "press"}
SIGNAL_REASONS = {
    "legal": "legal threat",
    "shouting": "shouting (capitals)",
    "insult": "insults or profanity",
}
REASON_MIN_POINTS = 2.0  # a factor is named as a reason once it adds at least this much


@dataclass(frozen=True)
class ComplaintFacts:
    """What the complaint action knows about one complaint, already looked up."""

    issue_type: str
    order_total: float  # euros
    days_late: int = 0  # 0 when not late or not known
    customer_tier: str = "standard"
    complaints_last_90_days: int = 0  # excluding this one
    sentiment: float = 0.0  # VADER compound, -1..1
    texts: tuple[str, ...] = ()  # the customer's messages in this complaint
    threatened_public: bool = False  # NLU saw intent threaten_public
    insulted: bool = False
    item_value: Optional[float] = None  # value of the affected items; None = the whole order
    disputed_amount: Optional[float] = None  # billing: the amount charged wrongly, if known
    within_warranty: Optional[bool] = None  # poor quality; None (unknown) counts as within
    hazard: Optional[str] = None  # a safety hazard (sparks, fire, a burn, a cut): critical

    def __post_init__(self) -> None:
        for name in ("order_total", "days_late", "complaints_last_90_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"ComplaintFacts.{name} must not be negative")
        if not -1.0 <= self.sentiment <= 1.0:
            raise ValueError("ComplaintFacts.sentiment must be a VADER score in -1..1")


@dataclass(frozen=True)
class Severity:
    """The verdict stored on the case and shown to the agent."""

    level: str  # low | medium | high | critical
    score: float  # 0..100
    reasons: tuple[str, ...]  # biggest contribution first
    signals: tuple[str, ...] = ()  # escalation signals, keys of SIGNALS

    @property
    def public_escalation(self) -> bool:
        return any(signal in PUBLIC_SIGNALS for signal in self.signals)


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SeverityWeights:
    """Points per factor and the level thresholds; field names are the policy file's keys."""

    issue_points: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "late_delivery": 10, "damaged": 20, "wrong_item": 15, "missing_item": 20,
        "billing_error": 20, "poor_quality": 15, "bad_service": 15,
    }))
    other_issue_points: float = 15
    points_per_100_euro: float = 4
    max_value_points: float = 20
    points_per_day_late: float = 3
    max_late_points: float = 21
    vip_points: float = 10
    points_per_previous_complaint: float = 8
    max_repeat_points: float = 24
    negative_sentiment_points: float = 20  # at sentiment -1; scaled linearly, 0 when >= 0
    # Public signals do not add up (a customer naming Twitter and the press is one threat);
    # the biggest counts. The others add.
    signal_points: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "public": 20, "social_media": 20, "reviews": 15, "press": 25,
        "legal": 25, "shouting": 5, "insult": 10,
    }))
    thresholds: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "medium": 25, "high": 50, "critical": 75,
    }))
    escalation_floor: str = "high"  # a public or legal threat is at least this severe


DEFAULT_WEIGHTS = SeverityWeights()


class SeverityConfigError(ContentError):
    """Overrides of the weights that do not make sense; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problems))


def weights_with_overrides(overrides: Mapping[str, Any],
                           issue_types: Iterable[str]) -> SeverityWeights:
    """The default weights with a policy file's `severity:` entries on top, checked."""
    problems: list[str] = []
    changes: dict[str, Any] = {}
    if not isinstance(overrides, Mapping):
        raise SeverityConfigError([f"expected key: value lines, got {overrides!r}"])
    known = {"issue_points": tuple(sorted(issue_types)), "signal_points": SIGNALS,
             "thresholds": LEVELS[1:]}

    def number(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"{where} must be a number of 0 or more, got {value!r}")
            return 0.0
        return float(value)

    names = [item.name for item in fields(SeverityWeights)]
    for name, value in overrides.items():
        default = getattr(DEFAULT_WEIGHTS, name) if name in names else None
        if default is None:
            hint = get_close_matches(str(name), names, 1)
            problems.append(f"unknown key {name!r}" + (f" (did you mean {hint[0]!r}?)"
                                                      if hint else ""))
        elif name == "escalation_floor":
            if value not in LEVELS:
                problems.append(f"escalation_floor must be one of {', '.join(LEVELS)}")
            changes[name] = value
        elif isinstance(default, Mapping):
            if not isinstance(value, Mapping):
                problems.append(f"{name}: expected key: value lines, got {value!r}")
                continue
            unknown = [key for key in value if key not in known[name]]
            problems.extend(f"{name}: unknown key {key!r}; expected one of: "
                            f"{', '.join(known[name])}" for key in unknown)
            changes[name] = _frozen({**default, **{key: number(points, f"{name}: {key}")
                                                   for key, points in value.items()}})
        else:
            changes[name] = number(value, name)
    medium, high, critical = (changes.get("thresholds", DEFAULT_WEIGHTS.thresholds)[level]
                              for level in LEVELS[1:])
    if not 0 < medium < high < critical <= 100:
        problems.append("thresholds must rise: 0 < medium < high < critical <= 100")
    if problems:
        raise SeverityConfigError(problems)
    return replace(DEFAULT_WEIGHTS, **changes)

# --- escalation signals -------------------------------------------------------------------

_SOCIAL = r"(?:twitter|facebook|instagram|insta|tiktok|tik tok|reddit|youtube|social media|x\.com)"
_TO_PRESS = (r"(?:go|goes|going|gone|went|contact\w*|tell\w*|told|talk\w* to|call\w*|"
             r"writ\w* to|wrote to|e-?mail\w*|report\w*(?: \w+)? to)")
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (signal, re.compile(pattern, re.IGNORECASE)) for signal, pattern in (
        ("public", r"\bgo(?:es|ing)? viral\b|\bmake (?:this|it) (?:go )?viral\b"
                   r"|\btell (?:every(?:one|body)|all my (?:friends|followers)"
                   r"|the (?:whole )?world)\b"
                   r"|\bevery(?:one|body)\b[^.!?\n]{0,25}\b(?:will|is going to|gonna) "
                   r"(?:know|hear|see)\b|\bmy followers\b"),
        ("social_media", r"\b(?:post|put|shar|writ|wrote|expos|blast|tag)\w*\b[^.!?\n]{0,30}"
                         rf"\b{_SOCIAL}\b"
                         rf"|\b(?:go|going|went) (?:on|to) {_SOCIAL}\b|\ball over {_SOCIAL}\b"
                         r"|\btweet(?:s|ed|ing)?\b|(?-i:\bon X\b)"),
        ("reviews", r"\btrust ?pilot\b|\breview sites?\b|\b(?:1|one|0|zero)[- ]?stars?\b"
                    r"|\b(?:google|bad|negative|terrible|awful|honest|scathing) reviews?\b"
                    r"|\b(?:leav|writ|post|giv)\w*\b[^.!?\n]{0,25}\breviews?\b"),
        ("press", rf"\b{_TO_PRESS} (?:the |a |my local |local )?(?:press|media|news|newspapers?|"
                  r"papers|tv|television|radio|journalists?|reporters?)\b"
                  r"|\bthe press\b|\bjournalists?\b|\breporters?\b|\bpress release\b"),
        ("legal", r"\blawyers?\b|\bsolicitors?\b|\battorneys?\b"
                  r"|\blegal (?:action|steps|proceedings|advice|team)\b"
                  r"|\b(?:take|taking|took|see|go to|going to|drag\w*)\b[^.!?\n]{0,20}\bcourt\b"
                  r"|\bcourt (?:case|action|claim)\b|\bsmall claims?\b|\bsu(?:ing|ed)\b"
                  r"|\bsue (?:you|your|them|lumen|the company)\b"
                  r"|\b(?:will|'ll|going to|gonna|want to|can|could|might|and) (?-i:sue|SUE)\b"
                  r"|\bconsumer (?:protection|authority|association)\b|\bwatchdog\b"
                  r"|\bombudsm[ae]n\b|\btrading standards\b|\bconsumentenbond\b"),
    )
)

# Profanity and insults, matched against whole words (so "Scunthorpe" or "shiitake" pass)
# after undoing the usual obfuscations ($ for s, 1 for i, ! for i, 0 for o, * for letters).
_INSULT_WORD = re.compile(
    r"f[u*@#v]?[c*@#]?k+\w*|f\*+\w*|sh[i*!]t(?!ake)\w*|s\*{3,}|bull(?:sh[i*]t|\*+)"
    r"|(?:ass|arse|a\*+)holes?|bastards?|wankers?|dickheads?|b[i*]tch\w*|c[u*]nts?"
    r"|twats?|idiot(?:s|ic)?|moron(?:s|ic)?"
)
_DEOBFUSCATE = str.maketrans({"$": "s", "1": "i", "!": "i", "0": "o", "3": "e"})
_EDGE_PUNCTUATION = ".,!?;:\"'()[]{}<>…"

# Shouting: a message whose letters are mostly capitals AND that has at least three
# shouted words (all capitals, two letters or more, not a known acronym). So "DPD" or
# "my DPD parcel" are not shouting, "I LOVE IT" is not (only LOVE and IT qualify), but
# "THIS IS UNACCEPTABLE" or "WHERE IS MY PARCEL" is. Capitals with a positive word and no
# negative one ("THANK YOU SO MUCH") are enthusiasm, not anger.
_WORD = re.compile(r"[^\W\d_]+")
_ACRONYMS = frozenset({
    "DPD", "DHL", "UPS", "TNT", "GLS", "NL", "EU", "UK", "USA", "OK", "ID", "PDF", "SMS",
    "FAQ", "CEO", "TV", "VIP", "EUR", "ASAP", "RP", "LO", "XL", "XXL", "USB", "LED", "PIN",
    "IBAN", "VAT", "BTW", "CS", "PS", "AM", "PM",
})
_POSITIVE = frozenset({"love", "thanks", "thank", "great", "amazing", "awesome", "perfect",
                       "brilliant", "wonderful", "happy", "excellent", "fantastic"})
_NEGATIVE = frozenset({"not", "never", "no", "worst", "hate", "nothing", "ruined",
                       "terrible", "awful", "useless"})
_SHOUT_MIN_WORDS = 3
_SHOUT_MIN_UPPER_SHARE = 0.7


def _is_shouting(text: str) -> bool:
    words = [word for word in _WORD.findall(text) if word not in _ACRONYMS]
    cased = [char for word in words for char in word if char.isupper() or char.islower()]
    if not cased or sum(char.isupper() for char in cased) / len(cased) < _SHOUT_MIN_UPPER_SHARE:
        return False
    shouted = [word.lower() for word in words if len(word) >= 2 and word.isupper()]
    if len(shouted) < _SHOUT_MIN_WORDS:
        return False
    return not (_POSITIVE.intersection(shouted) and not _NEGATIVE.intersection(shouted))


def _has_insult(text: str) -> bool:
    for token in text.lower().split():
        token = token.strip(_EDGE_PUNCTUATION).translate(_DEOBFUSCATE)
        if token and _INSULT_WORD.fullmatch(token):
            return True
    return False


def detect_escalation_signals(texts: Iterable[str]) -> tuple[str, ...]:
    """The escalation signals in a customer's messages, as keys of SIGNALS in that order.

    Keyword heuristics for the agent's benefit: they catch the usual wording of threats to
    go public or legal, shouting and profanity, and accept some misses over false alarms.
    """
    found: set[str] = set()
    for text in texts:
        text = text.replace("\u2019", "'")
        found.update(signal for signal, pattern in _PATTERNS if pattern.search(text))
        if _is_shouting(text):
            found.add("shouting")
        if _has_insult(text):
            found.add("insult")
    return tuple(signal for signal in SIGNALS if signal in found)


# --- scoring --------------------------------------------------------------------------------


def level_for(score: float, weights: SeverityWeights = DEFAULT_WEIGHTS) -> str:
    """The level a score reaches under the weights' thresholds."""
    level = "low"
    for candidate in LEVELS[1:]:
        if score >= weights.thresholds[candidate]:
            level = candidate
    return level


def public_threat_reason(signals: Iterable[str]) -> Optional[str]:
    """One reason naming every channel a customer threatened to go public on, if any."""
    signals = tuple(signals)
    if not PUBLIC_SIGNALS.intersection(signals):
        return None
    channels = [_PUBLIC_LABELS[signal] for signal in signals if signal in _PUBLIC_LABELS]
    return "threat to go public" + (f": {', '.join(channels)}" if channels else "")


def _sentiment_reason(sentiment: float) -> str:
    strength = "very negative" if sentiment <= -0.6 else "negative"
    return f"{strength} sentiment ({sentiment:.2f})"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def score_severity(facts: ComplaintFacts, weights: SeverityWeights = DEFAULT_WEIGHTS) -> Severity:
    """Score a complaint so the worst ones reach a person first and the agent sees why."""
    signals = set(detect_escalation_signals(facts.texts))
    if facts.threatened_public:
        signals.add("public")
    if facts.insulted:
        signals.add("insult")
    ordered_signals = tuple(signal for signal in SIGNALS if signal in signals)

    parts: list[tuple[float, Optional[str]]] = [
        (weights.issue_points.get(facts.issue_type, weights.other_issue_points), None),
        (min(weights.max_value_points, facts.order_total / 100 * weights.points_per_100_euro),
         f"order value €{facts.order_total:,.2f}"),
        (min(weights.max_late_points, facts.days_late * weights.points_per_day_late),
         f"{_plural(facts.days_late, 'day')} late"),
        (weights.vip_points if facts.customer_tier == "vip" else 0.0, "VIP customer"),
        (min(weights.max_repeat_points,
             facts.complaints_last_90_days * weights.points_per_previous_complaint),
         f"{_plural(facts.complaints_last_90_days, 'previous complaint')} in 90 days"),
        (max(0.0, -facts.sentiment) * weights.negative_sentiment_points,
         _sentiment_reason(facts.sentiment)),
    ]
    public = [signal for signal in ordered_signals if signal in PUBLIC_SIGNALS]
    if public:
        loudest = max(public, key=lambda signal: weights.signal_points.get(signal, 0))
        parts.append((weights.signal_points.get(loudest, 0),
                      public_threat_reason(ordered_signals)))
    for signal in ordered_signals:
        if signal not in PUBLIC_SIGNALS:
            parts.append((weights.signal_points.get(signal, 0), SIGNAL_REASONS[signal]))

    score = round(min(100.0, sum(points for points, _ in parts)), 1)
    level = level_for(score, weights)
    if public or "legal" in signals:
        level = max(level, weights.escalation_floor, key=LEVELS.index)
    if facts.hazard:
        # Someone's safety: the highest severity, whatever the order is worth.
        level = LEVELS[-1]
        parts.append((100.0, f"safety hazard reported ({facts.hazard})"))
    ranked = sorted((part for part in parts if part[1] and part[0] >= REASON_MIN_POINTS),
                    key=lambda part: -part[0])
    return Severity(level, score, tuple(reason for _, reason in ranked), ordered_signals)
