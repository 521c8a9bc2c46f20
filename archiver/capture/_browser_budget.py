"""How a browser capture spends its page budget.

A capture has one absolute deadline (``time.monotonic()``). The artefacts (screenshot,
DOM, PDF) are what a lawyer looks at first, so a slice at the end is reserved for them
before navigation, scrolling and waiting for the network may use the rest: a page that
never stops loading then still gets its screenshot instead of timing out empty-handed.
Pure arithmetic, kept apart so the shares are easy to read and to test.
"""

from __future__ import annotations

from dataclasses import dataclass

# The quiet time without any routed request in flight that counts as "settled".
QUIET_SECONDS = 0.5
# Scrolling: one viewport per step (a larger step could jump over an element an
# IntersectionObserver without margin is waiting for), each step shown for two animation
# frames so observers and lazy images start their requests (at most SCROLL_PAUSE when the
# page renders no frames), and a bound on the steps for endless pages. The scrolling runs
# in the page and stops itself at its time; SCROLL_SLACK more is allowed for its answer.
SCROLL_PAUSE = 0.05
SCROLL_MAX_STEPS = 200
SCROLL_SLACK = 0.5
# The floors below let a nearly spent budget still try for a screenshot and the DOM:
# a capture may then overrun its deadline by at most these few seconds.
SCREENSHOT_FLOOR = 2.0
DOM_FLOOR = 1.5
PDF_MIN = 1.0


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))


@dataclass(frozen=True)
class Budget:
    """Milestones of one capture, all ``time.monotonic()`` values."""

    start: float
    deadline: float

    @property
    def total(self) -> float:
        return max(0.0, self.deadline - self.start)

    @property
    def artefacts_at(self) -> float:
        """When navigation, scrolling and settling must stop: a quarter of the budget
        (at least 3 s, or half of a very small budget; at most 20 s) is kept for the
        artefacts."""
        total = self.total
        reserve = _clamp(total * 0.25, min(3.0, total * 0.5), 20.0)
        return self.deadline - reserve

    def scroll_until(self, now: float) -> float:
        """Scrolling gets a fifth of the budget (1 to 15 s), never past the artefacts."""
        return min(now + _clamp(self.total * 0.2, 1.0, 15.0), self.artefacts_at)

    def left(self, now: float) -> float:
        return max(0.0, self.deadline - now)

    def screenshot_timeout(self, now: float) -> float:
        return max(self.left(now) * 0.5, SCREENSHOT_FLOOR)

    def dom_timeout(self, now: float) -> float:
        return max(self.left(now) * 0.5, DOM_FLOOR)

    def pdf_timeout(self, now: float) -> float | None:
        """None: no time left for a PDF (it is the least important artefact)."""
        left = self.left(now)
        return left if left >= PDF_MIN else None
