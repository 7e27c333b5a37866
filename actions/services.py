"""What the actions need from the outside world, built on first use (never at import).

rasa-sdk instantiates actions without arguments, so they ask this module for the CRM, the
brand and the resolution policy. Tests swap in their own with `use(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Optional

from bot.brand import Brand, load_brand
from bot.crm.interface import Crm
from bot.settings import Settings


@dataclass
class Services:
    settings: Settings
    crm: Optional[Crm] = None
    brand: Optional[Brand] = None
    policy: Any = None  # bot.complaints.policy.ResolutionPolicy
    today: Optional[Callable[[], date]] = None


_current: Optional[Services] = None


def current() -> Services:
    global _current
    if _current is None:
        _current = Services(settings=Settings.from_env())
    return _current


def use(services: Optional[Services]) -> None:
    """Replace the services (tests); None resets to lazily built defaults."""
    global _current
    _current = services


def settings() -> Settings:
    return current().settings


def brand() -> Brand:
    services = current()
    if services.brand is None:
        services.brand = load_brand(services.settings.home / "brand")
    return services.brand


def crm() -> Crm:
    services = current()
    if services.crm is None:
        from bot.crm import make_crm

        services.crm = make_crm(services.settings)
    return services.crm


def policy() -> Any:
    services = current()
    if services.policy is None:
        from bot.complaints.policy import load_policy

        services.policy = load_policy(
            services.settings.home / "policies" / "resolution.yml",
            issue_types=[issue.key for issue in brand().issue_types],
        )
    return services.policy


def today() -> date:
    from bot.conversation.order_status import today_in

    services = current()
    if services.today is not None:
        return services.today()
    return today_in(brand().profile.get("timezone"))
