"""A complaint from report to remedy: facts, severity, the policy's decision, the case.

`resolve_complaint` looks the order and customer up, scores severity, asks the brand's
policy what to offer, records the case (with severity and its reasons) and the first offer,
and says how to apologise. Accepting or declining an offer is `settle_remedy`. No Rasa here:
the complaint actions turn these results into responses and events.

A turn can run twice (the stack was killed after the CRM saw the complaint, and the channel
delivered the message again): with a `request_key`, the second run finds the case the first
opened, reuses its offer and adds nothing to the timeline, so it answers as the first did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Iterable, Optional

from bot.brand import Brand
from bot.crm.interface import Case, Crm, CustomerCard, NewCase, Offer, Order
from bot.complaints.policy import Decision, Remedy, ResolutionPolicy
from bot.complaints.severity import ComplaintFacts, Severity

# Brand warranty years by product category; `default` for everything else.
WARRANTY_KEY_DEFAULT = "default"


@dataclass(frozen=True)
class ComplaintReport:
    """What the customer told us, as collected by the complaint form."""

    conversation_id: str
    channel: str
    customer_id: str
    order_number: str
    issue_type: str
    description: str
    texts: tuple[str, ...]  # the customer's messages in this complaint
    sentiment: float  # the most negative VADER compound among them
    threatened_public: bool = False
    insulted: bool = False
    amount_mentioned: Optional[float] = None
    hazard: Optional[str] = None  # a safety hazard reported in the conversation


@dataclass(frozen=True)
class ComplaintOutcome:
    case: Case
    severity: Severity
    decision: Decision
    offer: Optional[Offer]  # the remedy offered now (None: a person takes over)
    remedy: Optional[Remedy]

    @property
    def needs_human(self) -> bool:
        return self.decision.handoff or self.offer is None


def within_warranty(order: Order, brand: Brand, today: date) -> Optional[bool]:
    """Is every item on the order still under the brand's warranty? None if unknown."""
    years_by_category = brand.profile.get("warranty_years") or {}
    if not order.lines or not years_by_category:
        return None
    categories = {p.sku: p.category for p in brand.products}
    default = years_by_category.get(WARRANTY_KEY_DEFAULT, 2)
    shortest = min(years_by_category.get(categories.get(line.sku, ""), default)
                   for line in order.lines)
    placed = order.placed_at.date()
    try:
        expires = placed.replace(year=placed.year + int(shortest))
    except ValueError:  # 29 February
        expires = placed.replace(year=placed.year + int(shortest), day=28)
    return today <= expires


def complaint_facts(report: ComplaintReport, order: Order, tier: str, previous_complaints: int,
                    brand: Brand, today: date) -> ComplaintFacts:
    disputed = report.amount_mentioned if report.issue_type == "billing_error" else None
    return ComplaintFacts(
        issue_type=report.issue_type,
        order_total=order.total,
        days_late=order.days_late(today),
        customer_tier=tier,
        complaints_last_90_days=previous_complaints,
        sentiment=max(-1.0, min(1.0, report.sentiment)),
        texts=report.texts,
        threatened_public=report.threatened_public,
        insulted=report.insulted,
        disputed_amount=disputed,
        within_warranty=within_warranty(order, brand, today),
        hazard=report.hazard,
    )


async def resolve_complaint(crm: Crm, policy: ResolutionPolicy, brand: Brand,
                            report: ComplaintReport, today: date,
                            request_key: Optional[str] = None) -> ComplaintOutcome:
    """Record the complaint as a case and make the first offer the policy allows.

    `request_key` names this request (the customer's message): run again with the same key,
    it opens no second case, makes no second offer and adds no second timeline entry, and
    returns the first run's case and offer, wherever the first run stopped.
    """
    order = await crm.get_order(report.order_number)
    card = await crm.customer_card(report.customer_id)
    facts = complaint_facts(report, order, card.customer.tier, card.complaints_last_90_days,
                            brand, today)
    severity = policy.severity_of(facts)
    decision = policy.decide(facts, severity)
    case = await crm.open_case(_new_case(report, order, severity, decision, request_key))
    replayed = request_key is not None and _opened_before(case, card)
    if replayed:
        # The card counted this very case among the previous complaints: judge it as the
        # first run did, without it.
        facts = replace(facts, complaints_last_90_days=max(0, facts.complaints_last_90_days - 1))
        severity = policy.severity_of(facts)
        decision = policy.decide(facts, severity)
    offer = remedy = None
    if not decision.handoff and decision.remedies:
        remedy = decision.remedies[0]
        made = await crm.offers_for_case(case.id) if request_key is not None else ()
        offer = _first_offer(made) or await crm.make_offer(case.id, remedy.kind, remedy.amount)
        remedy = _remedy_for(offer, decision) or remedy
    if not (request_key is not None and _complaint_noted(card, case)):
        await crm.add_interaction(
            report.customer_id, report.channel, "complaint",
            f"{_complaint_note_prefix(case)} about {order.number}: "
            f"{brand.issue_label(report.issue_type)}, severity {severity.level}"
            + (f", offered {remedy.summary}" if remedy else ", to a person"),
        )
    return ComplaintOutcome(case, severity, decision, offer, remedy)


def _new_case(report: ComplaintReport, order: Order, severity: Severity, decision: Decision,
              request_key: Optional[str]) -> NewCase:
    status = "needs_human" if decision.handoff or not decision.remedies else "offered"
    return NewCase(
        customer_id=report.customer_id, order_number=order.number, category=report.issue_type,
        severity=severity.level, severity_score=severity.score,
        severity_reasons=severity.reasons + tuple(f"handoff: {r}" for r in decision.handoff_reasons),
        description=report.description[:2000], status=status, request_key=request_key,
    )


def _opened_before(case: Case, card: CustomerCard) -> bool:
    """Did an earlier run of this request open the case (the card, read first, lists it)?"""
    return any(known.id == case.id for known in card.open_cases)


def _first_offer(offers: tuple[Offer, ...]) -> Optional[Offer]:
    """The offer an earlier run of this request made: the case's first (the customer cannot
    have answered it yet, so there is no later one)."""
    return offers[0] if offers else None


def _remedy_for(offer: Offer, decision: Decision) -> Optional[Remedy]:
    """The policy's remedy that `offer` made (kind and amount), if it is one of them."""
    for remedy in decision.remedies:
        if remedy.kind == offer.kind and remedy.amount == offer.amount:
            return remedy
    return next((remedy for remedy in decision.remedies if remedy.kind == offer.kind), None)


def _complaint_note_prefix(case: Case) -> str:
    return f"Complaint {case.id}"


def _complaint_noted(card: CustomerCard, case: Case) -> bool:
    """Is the timeline entry for this case already there (an earlier run added it)?"""
    prefix = _complaint_note_prefix(case) + " "
    return any(entry.kind == "complaint" and entry.summary.startswith(prefix)
               for entry in card.timeline)


async def settle_remedy(crm: Crm, case_id: str, offer_id: str, accepted: bool,
                        customer_id: Optional[str], channel: str) -> Offer:
    """Accept (records it: voucher code, refund or replacement on the case) or decline."""
    offer = await crm.settle_offer(offer_id, accepted)
    if accepted:
        await crm.update_case(case_id, status="resolved", resolution=offer_resolution(offer))
    else:
        await crm.update_case(case_id, status="needs_human",
                              resolution=f"customer declined the {offer.kind}")
    if customer_id:
        verb = "accepted" if accepted else "declined"
        await crm.add_interaction(customer_id, channel, f"offer_{verb}",
                                  f"{verb.capitalize()} {offer_resolution(offer)} on {case_id}")
    return offer


def offer_resolution(offer: Offer) -> str:
    """The resolution line stored on the case, e.g. 'voucher LO-7KX… (€10.00)'."""
    if offer.kind == "voucher":
        return f"voucher {offer.voucher_code or '(code pending)'} ({euros(offer.amount)})"
    if offer.kind == "refund":
        return f"refund of {euros(offer.amount)}"
    if offer.kind == "replacement":
        return "replacement sent"
    return "callback from customer care"


def euros(amount: Optional[float]) -> str:
    return "an amount to be confirmed" if amount is None else f"€{amount:,.2f}"


def most_negative(scores: Iterable[float]) -> float:
    return min(list(scores) or [0.0])
