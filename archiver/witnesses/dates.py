"""The date a report speaks of, read from its own words (pure).

An earlier copy is chosen nearest the citing report's date: what its author saw when
writing. A report says its date near the top ("MONITORING ... FROM OCTOBER 1 TO OCTOBER
31, 2022", "Отчёт за 05.10.2022"), so the title and the opening text are read, and the
latest full date there is taken: a digest covering a month was written at its end.
Only when no date is found does the caller fall back to the intake time, which for an
old report can be years late.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime

# How much of the report's opening is read: dates further down are those of events.
OPENING_CHARS = 2000

_MONTHS = {
    **{name.lower(): i for i, name in enumerate(calendar.month_name) if name},
    **{name.lower(): i for i, name in enumerate(calendar.month_abbr) if name},
    "sept": 9,
    # Russian, nominative and genitive ("1 октября 2022").
    **dict.fromkeys(("январь", "января"), 1),
    **dict.fromkeys(("февраль", "февраля"), 2),
    **dict.fromkeys(("март", "марта"), 3),
    **dict.fromkeys(("апрель", "апреля"), 4),
    **dict.fromkeys(("май", "мая"), 5),
    **dict.fromkeys(("июнь", "июня"), 6),
    **dict.fromkeys(("июль", "июля"), 7),
    **dict.fromkeys(("август", "августа"), 8),
    **dict.fromkeys(("сентябрь", "сентября"), 9),
    **dict.fromkeys(("октябрь", "октября"), 10),
    **dict.fromkeys(("ноябрь", "ноября"), 11),
    **dict.fromkeys(("декабрь", "декабря"), 12),
}
_MONTH = r"(?P<month>[^\W\d_]{3,9})\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_PATTERNS = (
    re.compile(rf"\b{_YEAR}-(?P<mnum>\d\d)-(?P<day>\d\d)\b"),
    re.compile(r"\b(?P<day>\d{1,2})[./](?P<mnum>\d{1,2})[./](?P<year>(?:19|20)\d\d)\b"),
    re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\s+{_YEAR}\b", re.IGNORECASE),
)
# "October 2022", "октябрь 2022 г.": a month without a day counts as its last day.
_MONTH_YEAR = re.compile(rf"\b{_MONTH}\s+{_YEAR}\b", re.IGNORECASE)


def _month(text: str | None) -> int | None:
    return _MONTHS.get((text or "").lower().rstrip("."))


def dates_in(text: str) -> list[date]:
    """Every full date written in ``text`` (ISO, day.month.year, "October 5, 2022",
    "5 October 2022", English or Russian month names)."""
    found: list[date] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            month = int(groups["mnum"]) if groups.get("mnum") else _month(groups.get("month"))
            if month is None:
                continue
            try:
                found.append(date(int(groups["year"]), month, int(groups["day"])))
            except ValueError:
                continue
    if not found:
        for match in _MONTH_YEAR.finditer(text):
            month = _month(match.group("month"))
            if month is not None:
                year = int(match.group("year"))
                found.append(date(year, month, calendar.monthrange(year, month)[1]))
    return found


def report_date(title: str | None, text: str | None) -> date | None:
    """The date the report speaks of: the latest full date in its title, else in its
    opening text; None when neither names one. ("FROM OCTOBER 1 TO OCTOBER 31, 2022"
    gives its last day, written in full.)"""
    for part in (title or "", (text or "")[:OPENING_CHARS]):
        found = dates_in(part)
        if found:
            return max(found)
    return None


def target_moment(
    title: str | None, text: str | None, ingested_at: datetime
) -> tuple[datetime, str]:
    """When the copy should be from, and on what basis: ``("report_text")`` the date
    the report names (noon UTC of that day), else ``("intake")`` when it was taken in."""
    found = report_date(title, text)
    if found is None:
        return ingested_at.astimezone(UTC), "intake"
    return datetime(found.year, found.month, found.day, 12, tzinfo=UTC), "report_text"
