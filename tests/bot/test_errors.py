"""bot.errors: every named error sits where the tree in its docstring says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.brand import BrandDataError
from bot.complaints.policy_file import PolicyError
from bot.complaints.severity import SeverityConfigError
from bot.crm.interface import CrmError, CrmUnavailable
from bot.errors import ContentError, RapportError, StoreUnavailable, Unavailable
from bot.handoff.canned import CannedResponsesError
from bot.hub.rasa_api import RasaApiError, RasaUnavailable
from bot.ops import content_checks
from bot.ops.cli import CliError
from bot.ops.supervisor import SupervisorError
from bot.ops.training import TrainingError
from bot.settings import SettingsError
from channels.telegram import store as telegram_store


@pytest.mark.parametrize("error", [
    BrandDataError, PolicyError, SeverityConfigError, CannedResponsesError,
])
def test_brand_file_errors_are_content_errors(error: type) -> None:
    assert issubclass(error, ContentError) and issubclass(error, ValueError)


@pytest.mark.parametrize("error", [StoreUnavailable, CrmUnavailable, RasaApiError,
                                   RasaUnavailable])
def test_services_that_cannot_answer_are_unavailable(error: type) -> None:
    assert issubclass(error, Unavailable)


@pytest.mark.parametrize("error", [
    ContentError, SettingsError, Unavailable, CliError, SupervisorError, TrainingError,
])
def test_every_family_has_one_root(error: type) -> None:
    assert issubclass(error, RapportError)


def test_errors_keep_the_bases_callers_catch() -> None:
    assert issubclass(ContentError, ValueError) and issubclass(SettingsError, ValueError)
    assert issubclass(StoreUnavailable, RuntimeError) and issubclass(RasaApiError, RuntimeError)
    assert issubclass(CrmUnavailable, CrmError)
    assert all(issubclass(error, RuntimeError)
               for error in (CliError, SupervisorError, TrainingError))


def test_there_is_one_content_error_and_one_store_unavailable() -> None:
    assert content_checks.ContentError is ContentError
    assert telegram_store.StoreUnavailable is StoreUnavailable


def test_policy_errors_still_list_their_problems() -> None:
    error = PolicyError(Path("policies/resolution.yml"), ["a", "b"])
    assert isinstance(error, RapportError) and error.problems == ("a", "b")
