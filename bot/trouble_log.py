"""Saying in the log that something fails once, not on every retry, and saying when it works again.

Background loops (the exchange log's consumers, the console's live updates) retry every
fraction of a second to half a minute while a database or RabbitMQ is away; a warning per
attempt would bury the log, and no word on recovery would leave the reader guessing.
"""

from __future__ import annotations

import logging
from typing import Optional


class TroubleLog:
    """One loop's trouble: warned once per distinct trouble, and an info line once it is over."""

    def __init__(self, logger: logging.Logger, recovery: str) -> None:
        self.logger = logger  # the loop's own logger, so the lines keep its name
        self.recovery = recovery  # the info line once the trouble is over
        self.trouble: Optional[str] = None  # what was said last, until it works again
        self.count = 0  # how many times something went wrong (tests wait on it)

    def say(self, trouble: str) -> None:
        """Count a failed attempt; warn only when the trouble differs from the last one said."""
        self.count += 1
        if trouble != self.trouble:
            self.logger.warning("%s", trouble)
            self.trouble = trouble

    def unexpected(self, what: str) -> None:
        """Count and log an unexpected error with its traceback (call it in an `except`)."""
        self.count += 1
        self.logger.exception("%s", what)

    def recovered(self) -> None:
        """The attempt worked: say so once if a trouble was said."""
        if self.trouble is not None:
            self.logger.info("%s", self.recovery)
            self.trouble = None
