"""Progress messages for long loops, at most one a minute, so that short runs stay quiet.

A ridge job at paper size can run for hours (the refitted permutation null of one BOLD5000
fit alone takes 1-2 h on one core), and its log is the only sign of life a user gets.
"""

from __future__ import annotations

import logging
import time

PROGRESS_INTERVAL_SECONDS = 60.0
"""The least time between two progress messages of one loop."""


class ThrottledProgress:
    """Log ``"<label>: <done> of <total> <unit>, <elapsed> s"`` when a step ends, if at least
    :data:`PROGRESS_INTERVAL_SECONDS` have passed since the loop started or since the last message.

    Parameters
    ----------
    logger : logging.Logger
    label : str
        What the loop is doing, e.g. the fit it belongs to.
    total : int
        Steps in the loop.
    unit : str
        What a step is, plural (``"models"``).
    """

    def __init__(self, logger: logging.Logger, label: str, total: int, unit: str) -> None:
        self.logger, self.label, self.total, self.unit = logger, label, total, unit
        self.start = self.last = time.monotonic()

    def step_done(self, done: int) -> None:
        """Report ``done`` steps of ``total`` if the interval has passed."""
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL_SECONDS:
            self.last = now
            self.logger.info("%s: %d of %d %s, %.0f s", self.label, done, self.total, self.unit, now - self.start)
