"""Generated reports for benchmarks: N footnoted claims in the style of the real reports."""

from __future__ import annotations

import random

_PLACES = ["Almaty", "Astana", "Aktau", "Atyrau", "Taraz", "Shymkent", "Pavlodar", "Kyzylorda"]
_CLAIMS = [
    "an activist was detained by police officers and taken to the district department",
    "the court sentenced a journalist to 10 days of administrative arrest",
    "relatives of the detainee said he was subjected to torture in custody",
    "a peaceful rally was dispersed and its organisers were fined",
    "the editorial office received threats written under its windows",
]


def _url(rng: random.Random, n: int) -> str:
    kind = rng.random()
    if kind < 0.55:
        host = rng.choice(["rus.azattyq.org", "kaztag.kz", "orda.kz", "vlast.kz", "informburo.kz"])
        return f"https://{host}/a/{32000000 + n}.html" + (
            "?fbclid=IwAR0" + str(n) if n % 7 == 0 else ""
        )
    if kind < 0.85:
        return (
            f"https://www.facebook.com/groups/ActivistsNotExtremists/posts/{3388608751458384 + n}/"
        )
    return f"https://www.youtube.com/watch?v={n:011d}&ab_channel=AzattyqTV"


def notes_report(citations: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """Body paragraphs ending in [n] and the URLs listed under each n."""
    rng = random.Random(seed)
    body, urls = [], []
    for n in range(1, citations + 1):
        day = rng.randint(1, 28)
        body.append(
            f"October {day}, {rng.choice(_PLACES)}, {rng.choice(_CLAIMS)}. "
            f"The case is number {rng.randint(1000, 9999)}[{n}]."
        )
        urls.append(_url(rng, n))
    return body, urls


def as_text(citations: int) -> bytes:
    body, urls = notes_report(citations)
    lines = [*body, "", *(f"[{n}]{u}" for n, u in enumerate(urls, 1))]
    return "\n\n".join(lines).encode("utf-8")


def as_markdown(citations: int) -> bytes:
    body, urls = notes_report(citations)
    paragraphs = [p.replace(f"[{n}]", f"[^{n}]") for n, p in enumerate(body, 1)]
    notes = [f"[^{n}]: {u}" for n, u in enumerate(urls, 1)]
    return ("# Monitoring\n\n" + "\n\n".join(paragraphs) + "\n\n" + "\n".join(notes)).encode()


def as_html(citations: int) -> bytes:
    body, urls = notes_report(citations)
    paragraphs = [
        "<p>" + p.replace(f"[{n}]", f'<sup><a href="#fn{n}">{n}</a></sup>') + "</p>"
        for n, p in enumerate(body, 1)
    ]
    notes = [f'<li id="fn{n}"><a href="{u}">{u}</a></li>' for n, u in enumerate(urls, 1)]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Monitoring</title></head><body>"
        + "".join(paragraphs)
        + "<ol>"
        + "".join(notes)
        + "</ol></body></html>"
    ).encode()
