"""Pages for the re-check scenarios: articles with rotating noise, and what they turn into."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from archiver.check.signals import Signal
from tests.conftest import SHARED
from tests.simweb import Request

CORPUS = SHARED / "corpus"

PARAGRAPHS = [
    "On 3 October the district court in Kyzylorda began hearing the case against the "
    "activist, who is accused of taking part in an unsanctioned rally last spring.",
    "His lawyer told reporters that the defence had not been given access to the case "
    "file until the morning of the hearing, and asked the judge to postpone it.",
    "The judge refused the request. Several journalists were not allowed into the "
    "courtroom, and police officers photographed people waiting outside the building.",
    "Human rights groups said the prosecution was retaliation for the activist's posts "
    "about local officials, and called for the charges to be dropped.",
    "The next hearing is scheduled for the end of the month, according to the court's "
    "press service, which declined to comment further on the proceedings.",
]
REWRITTEN = (
    "The court press service later said the hearing had been open to the public and that "
    "no journalist had asked for accreditation, a claim the reporters present dispute."
)
OTHER_ARTICLE = [
    "The city council approved a new budget for road repairs on Tuesday after a long debate "
    "about the cost of asphalt and the contractors chosen last year.",
    "Residents of the northern districts complained that their streets had been left out of "
    "the plan again, while the centre would be resurfaced for the second time in three years.",
    "The mayor promised a separate programme for the suburbs in spring, without saying "
    "where the money would come from or which streets would be first.",
]


def article(
    title: str = "Trial of an activist begins in Kyzylorda",
    paragraphs: list[str] | None = None,
    *,
    noise: int = 0,
) -> str:
    """An article page; ``noise`` changes the ads, the date line, the view counter and the
    'most read' box, as real news pages do on every load."""
    body = "".join(f"<p>{p}</p>" for p in (paragraphs or PARAGRAPHS))
    ads = ["Buy a new phone today", "Cheap flights to Antalya", "Learn English online"]
    days = ["Monday", "Tuesday", "Wednesday"]
    months = ["October", "November", "December"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<script>var session = "{noise * 7919}";</script></head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/world">World</a></nav>
<div class="ad">{ads[noise % 3]}: click here</div></header>
<main><article><h1>{title}</h1>
<div class="meta">Updated {days[noise % 3]}, {noise % 28 + 1} {months[noise % 3]} 2024, {10 + noise % 12}:{noise % 60:02d}. Views: {1000 + noise * 37}</div>
{body}
</article></main>
<aside><h3>Most read</h3><ul><li><a href="/a/{noise}">Story number {noise}</a></li></ul></aside>
<footer>© 2024 News agency. All rights reserved.</footer></body></html>"""


def rotating() -> Callable[[Request], str]:
    """The same article with different ads, dates and counters on every request."""
    counter = itertools.count(1)
    return lambda _request: article(noise=next(counter))


def with_typo() -> str:
    paragraphs = list(PARAGRAPHS)
    paragraphs[1] = paragraphs[1].replace("reporters", "reportres")
    return article(paragraphs=paragraphs)


def paragraph_rewritten() -> str:
    paragraphs = list(PARAGRAPHS)
    paragraphs[2] = REWRITTEN
    return article(paragraphs=paragraphs, noise=5)


def other_article() -> str:
    return article("Council approves road budget", OTHER_ARTICLE, noise=9)


HOME = """<!doctype html><html><head><title>News agency</title></head><body>
<h1>News agency: latest news</h1><ul><li><a href="/a/1">Prices rise again</a></li>
<li><a href="/a/2">Weather: snow expected</a></li><li><a href="/a/3">Football results</a></li>
</ul><p>Independent news since 1995. Subscribe to our newsletter for the top stories every
morning, delivered to your inbox before breakfast.</p></body></html>"""

LOGIN = """<!doctype html><html><head><title>Log in</title></head><body>
<h1>Log in to continue</h1><form action="/login" method="post">
<input name="email" type="email"><input name="pass" type="password">
<button>Log in</button></form><p>Create new account</p></body></html>"""

NOT_FOUND = """<!doctype html><html><head><title>Page not found</title></head><body>
<h1>Sorry, we could not find that page</h1><p>The page you are looking for may have been
moved, renamed or deleted. Try the search box above, or go back to the home page to read
the latest news from our correspondents.</p></body></html>"""

FB_UNAVAILABLE = """<!doctype html><html><head><title>Facebook</title></head><body>
<div><h2>This content isn't available right now</h2><p>When this happens, it's usually because
the owner only shared it with a small group of people, changed who can see it or it's been
deleted.</p><a href="/">Go to News Feed</a></div></body></html>"""

BOT_WALL = """<!doctype html><html><head><title>Attention Required!</title></head><body>
<h1>Sorry, you have been blocked</h1><p>Please complete the security check to access this
site.</p></body></html>"""


def corpus_page(relative: str) -> bytes:
    return (CORPUS / relative).read_bytes()


def local_recognizer(url: str, final_url: str, status: int | None, html: str) -> Signal | None:
    """A minimal stand-in for archiver.platforms.recognize_page (issue 4)."""
    if "facebook.com" in final_url and "content isn't available" in html:
        return Signal("removed", "Facebook: this content isn't available")
    if "youtube.com" in final_url and '"playabilityStatus":{"status":"ERROR"' in html:
        return Signal("removed", "YouTube: video unavailable")
    if "youtube.com" in final_url and '"playabilityStatus":{"status":"OK"' in html:
        return Signal("live", "YouTube: playable")
    return None


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
