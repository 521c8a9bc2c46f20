"""Numbers, dates and names in the main text: what changed, quoted as written.

In the reports this archiver serves, the figures *are* the claim: how many detained,
how many dead, how long the sentence, on what date, who. An article edited from
"67,000 research staff" to "6,700 research staff" is nearly the same text (similarity
above 0.99) and yet no longer supports the claim that cites it. So, besides the
similarity score, the literal main texts (:func:`archiver.check.text.literal`) of the
baseline and of the page are compared word by word (``difflib``), and every changed
stretch of words that adds, removes or replaces a *significant* word is reported:

- a **number**: any word with a digit ("67,000", "21.9%", "2011-12", "10:30"), or a
  number written out ("seven", "thousand", "dozens"; "семь", "тысяч");
- a **date** word: a month or weekday name (English when capitalised; Russian);
- a **name**: a capitalised word of two letters or more ("Onwurah", "UCU", "Алматы")
  that is not merely starting a sentence. A sentence's first word counts only when it
  never appears in lower case in either text and either appears capitalised inside a
  sentence too or is followed by a name ("Chi Onwurah said": "Chi" counts, "The" and
  "Others" do not).

Only words inside the extracted main text are compared: ads, menus, counters and clocks
around it never reach this module. Inside it, a few phrases that change on every load
are set aside first: relative times ("5 minutes ago", "2 часа назад") and view or
comment counters ("Views: 1037", "1 037 просмотров"). A change of punctuation, of case
or of ordinary words is not significant here (the similarity threshold judges those).

Pure functions, no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass

# Words of context quoted on each side of a change, within its paragraph.
_CONTEXT = 2
# A changed stretch longer than this many words is quoted by its ends.
_MAX_QUOTED = 24
_LIMIT = 50


def _listed(words: str) -> frozenset[str]:
    return frozenset(words.split())


_EN_NUMBERS = _listed(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred hundreds thousand thousands million millions billion billions "
    "dozen dozens half third thirds quarter quarters"
)
_RU_NUMBERS = _listed(
    "один одна одно одного одной одному одним два две двух двум двумя три трёх трех трем "
    "тремя четыре четырёх четырех пять пяти пятью шесть шести семь семи восемь восьми "
    "девять девяти десять десяти одиннадцать двенадцать пятнадцать двадцать двадцати "
    "тридцать тридцати сорок сорока пятьдесят шестьдесят семьдесят восемьдесят девяносто "
    "сто ста двести триста четыреста пятьсот тысяча тысячи тысяч тысячу тысячами "
    "миллион миллиона миллионов миллиард миллиарда миллиардов десятки десятков сотни "
    "сотен половина треть"
)
_EN_DATES = _listed(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday"
)
_RU_DATES = _listed(
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря "
    "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь "
    "январе феврале марте апреле мае июне июле августе сентябре октябре ноябре декабре "
    "понедельник вторник среда среду четверг пятница пятницу суббота субботу воскресенье "
    "понедельника вторника среды четверга пятницы субботы воскресенья"
)
_UNITS_EN = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)"
_UNITS_RU = r"(?:секунд\w*|сек\.?|минут\w*|мин\.?|час\w*|дн\w*|день)"
_COUNTER = r"(?:views?|comments?|просмотр\w*|комментари\w*)"
_AMOUNT = r"\d(?:[\d.,]|[^\S\n](?=\d{3}\b))*"  # 1037, 1,037, 1 037
_SP = r"[^\S\n]"
# Set aside before comparing: they change on every load, whatever the article says.
_VOLATILE = re.compile(
    rf"\b\d+{_SP}*(?:{_UNITS_EN}{_SP}+ago|{_UNITS_RU}{_SP}+назад)\b"
    rf"|\b{_COUNTER}{_SP}*:?{_SP}*{_AMOUNT}"
    rf"|\b{_AMOUNT}{_SP}*{_COUNTER}\b",
    re.IGNORECASE,
)
_SET_ASIDE = "…"
_EDGE = re.compile(r"^\W+|\W+$")
_KEEP_EDGE = re.compile(r"^[^\w$€£₸₽]+|[^\w%]+$")
_SENTENCE_END = re.compile(r"[.!?…:]$")


@dataclass(frozen=True)
class _Word:
    raw: str
    core: str  # without the punctuation around it
    line: int
    starts_sentence: bool


@dataclass(frozen=True)
class Change:
    """One changed stretch of the main text, quoted as written with a few words of
    context: ``before`` in the baseline, ``after`` in the page now (either may be only
    context when words were added or removed)."""

    before: str
    after: str
    kinds: tuple[str, ...]  # "number", "date", "name": what makes it significant

    def as_dict(self) -> dict[str, object]:
        return {"before": self.before, "after": self.after, "kinds": list(self.kinds)}

    def __str__(self) -> str:
        return f'"{self.before}" -> "{self.after}"'


def _words(text: str) -> list[_Word]:
    out: list[_Word] = []
    for number, line in enumerate(_VOLATILE.sub(_SET_ASIDE, text).splitlines()):
        previous = ""
        for raw in line.split():
            core = _KEEP_EDGE.sub("", raw)
            trimmed = previous.rstrip("\"'”’»)]*")
            out.append(
                _Word(raw, core, number, not previous or bool(_SENTENCE_END.search(trimmed)))
            )
            previous = raw
    return out


def _kind(words: list[_Word], at: int, lower: set[str], named: set[str]) -> str | None:
    word = words[at]
    core = word.core
    if not core:
        return None
    if any(c.isdigit() for c in core):
        return "number"
    folded = _EDGE.sub("", core).casefold()
    parts = folded.split("-")
    if any(p in _EN_NUMBERS or p in _RU_NUMBERS for p in parts):
        return "number"
    if folded in _RU_DATES or (folded in _EN_DATES and core[0].isupper()):
        return "date"
    if not _capitalised(core):
        return None
    if not word.starts_sentence:
        return "name"
    # A sentence's first word: a name when it is never written in lower case and is
    # seen as a name elsewhere, or a name follows it ("Chi Onwurah said").
    following = words[at + 1] if at + 1 < len(words) else None
    before_name = (
        following is not None
        and following.line == word.line
        and not following.starts_sentence
        and _capitalised(following.core)
    )
    if folded in lower:
        return None
    return "name" if folded in named or before_name else None


def _capitalised(core: str) -> bool:
    letters = [c for c in core if c.isalpha()]
    return len(letters) >= 2 and letters[0].isupper() and core[:1].isalpha()


def _quote(words: list[_Word], start: int, end: int) -> str:
    """Words ``start:end`` with up to ``_CONTEXT`` words of the same paragraph around."""
    if start < end:
        first_line, last_line = words[start].line, words[end - 1].line
    elif start < len(words):
        first_line = last_line = words[start].line if start == 0 else words[start - 1].line
    else:
        first_line = last_line = words[-1].line if words else 0
    lo = start
    while lo > 0 and start - lo < _CONTEXT and words[lo - 1].line == first_line:
        lo -= 1
    hi = end
    while hi < len(words) and hi - end < _CONTEXT and words[hi].line == last_line:
        hi += 1
    span = [w.raw for w in words[lo:hi]]
    if len(span) > _MAX_QUOTED:
        half = _MAX_QUOTED // 2
        span = [*span[:half], "…", *span[-half:]]
    return " ".join(span)


def _unmatched(significant: list[tuple[_Word, str]], other: Counter[str]) -> list[str]:
    """Kinds of the significant words with no counterpart on the other side."""
    pool = Counter(other)
    kinds = []
    for word, kind in significant:
        key = word.core.casefold()
        if pool[key] > 0:
            pool[key] -= 1
        else:
            kinds.append(kind)
    return kinds


def changes(before: str, after: str, *, limit: int = _LIMIT) -> list[Change]:
    """The significant changes from ``before`` to ``after`` (literal main texts)."""
    if before == after:
        return []
    a, b = _words(before), _words(after)
    lower = {w.core.casefold() for w in (*a, *b) if w.core[:1].islower()}
    named = {w.core.casefold() for w in (*a, *b) if not w.starts_sentence and _capitalised(w.core)}
    matcher = difflib.SequenceMatcher(
        None, [w.core or w.raw for w in a], [w.core or w.raw for w in b], autojunk=False
    )
    found: list[Change] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old = [(a[i], k) for i in range(i1, i2) if (k := _kind(a, i, lower, named))]
        new = [(b[j], k) for j in range(j1, j2) if (k := _kind(b, j, lower, named))]
        kinds = _unmatched(old, Counter(w.core.casefold() for w in b[j1:j2]))
        kinds += _unmatched(new, Counter(w.core.casefold() for w in a[i1:i2]))
        if not kinds:
            continue
        found.append(Change(_quote(a, i1, i2), _quote(b, j1, j2), tuple(sorted(set(kinds)))))
        if len(found) >= limit:
            break
    return found


def describe(found: list[Change], *, shown: int = 3) -> str:
    """A short account for a state change's reason."""
    kinds = sorted({k for c in found for k in c.kinds})
    what = {"number": "numbers", "date": "dates", "name": "names"}
    head = ", ".join(what[k] for k in kinds) or "figures"
    quoted = "; ".join(str(c) for c in found[:shown])
    more = f" (+{len(found) - shown} more)" if len(found) > shown else ""
    return f"{head} changed in the main text: {quoted}{more}"
