"""Pinned keys: which signing keys a verifier accepts, and when each key came into use.

A package or a store is only as good as the key that signed it: anyone can make a key,
capture a page (or edit one), sign and export it, and the package is internally
consistent. What ties it to an organisation is the fingerprint the organisation
published (``archiver keys show`` prints it; docs/integrity.md, "Publishing the key").
``archiver verify --key FINGERPRINT`` (repeatable) or ``integrity.trusted_keys`` pins
those: anything signed by another key fails. Without a pin, verify says which key it saw
and that it must be compared with the published one (:func:`check_pins`).

A key also has a beginning: its ``key_created`` or ``key_rotated`` custody entry, sealed
into the next signed, timestamped custody head. A manifest signed by a key must come
after that entry in the chain, and must not claim a capture that started before it
(:func:`check_introduced`): so a key made later, even a pinned one, cannot claim earlier
captures.

Stdlib only: the settings import :func:`normalize_fingerprint`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archiver.integrity.verify import Findings

KEY_ACTIONS = ("key_created", "key_rotated")
# Clocks of different machines (a worker, the machine that rotated the key) may differ;
# a capture may start this long before the key that sealed it was made.
CLOCK_SKEW = timedelta(hours=1)
PIN_SETTING = "integrity.trusted_keys"
_SEPARATORS = re.compile(r"[\s:]+")


def normalize_fingerprint(text: str) -> str:
    """A fingerprint as published (``sha256:`` prefix, upper case, groups separated by
    spaces or colons allowed) in its one form: 64 lowercase hex digits."""
    value = text.strip()
    if value.lower().startswith("sha256:"):
        value = value[len("sha256:") :]
    value = _SEPARATORS.sub("", value).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(
            f"{text!r} is not a key fingerprint (64 hex digits: the sha256 of the 32 raw "
            "Ed25519 public key bytes, as archiver keys show prints it)"
        )
    return value


def publication_line(fingerprint: str) -> str:
    """The line docs/integrity.md tells an organisation to publish."""
    return f"Ed25519 signing key, SHA-256 fingerprint: {fingerprint}"


def check_pins(
    found: Findings, signed: Mapping[str, Iterable[str]], trusted: Sequence[str]
) -> None:
    """``signed``: each key's fingerprint -> what it signed. With pins, every key must be
    one of them; without, one warning (last, so it stands out) names the keys seen."""
    if not signed:
        return
    if trusted:
        pins = set(trusted)
        for fingerprint, what in signed.items():
            items = ", ".join(sorted(set(what)))
            found.check(
                "key",
                fingerprint in pins,
                f"{fingerprint} is a pinned key (signed {items})",
                f"{fingerprint} signed {items} and is not a pinned key (--key, "
                f"{PIN_SETTING}): not a key the organisation published",
            )
        return
    it = "it" if len(signed) == 1 else "each"
    found.warn(
        "KEY",
        f"signed by Ed25519 key {' and '.join(signed)}: compare {it} with the fingerprint "
        "the organisation published (never with one read from what is verified), or pin "
        f"{it}: archiver verify {' '.join(f'--key {k}' for k in signed)}",
    )


@dataclass(frozen=True)
class Introduction:
    """Where a key came into use: its key entry in the custody chain."""

    seq: int
    at: datetime


def introductions(
    entries: Iterable[tuple[int, str, str | None, datetime]],
) -> dict[str, Introduction]:
    """The first ``key_created``/``key_rotated`` entry of each key, from
    ``(seq, action, subject_id, at)`` rows."""
    found: dict[str, Introduction] = {}
    for seq, action, subject, at in sorted(entries, key=lambda e: e[0]):
        if action in KEY_ACTIONS and subject and subject not in found:
            found[subject] = Introduction(seq, at)
    return found


def check_introduced(
    found: Findings,
    item: str,
    fingerprint: str,
    known: Mapping[str, Introduction],
    *,
    seq: int | None = None,
    head_seq: int | None = None,
    started_at: datetime | None = None,
    report_ok: bool = True,
) -> bool:
    """A signature by ``fingerprint``: of a capture recorded at custody entry ``seq``
    that started at ``started_at``, or of a custody head covering entries up to
    ``head_seq``. The key must have been introduced before the capture (at or before
    the head: a new key's first signature is the head covering its own entry)."""
    intro = known.get(fingerprint)
    short = fingerprint[:16]
    problem = None
    if intro is None:
        problem = (
            f"signed by key {short}, which no key_created or key_rotated custody entry introduces"
        )
    elif seq is not None and seq <= intro.seq:
        problem = (
            f"recorded at custody entry {seq}, before the key that signed it ({short}) was "
            f"introduced at entry {intro.seq}: a later key cannot claim it"
        )
    elif head_seq is not None and head_seq < intro.seq:
        problem = (
            f"covers custody entries up to {head_seq}, before the key that signed it ({short}) "
            f"was introduced at entry {intro.seq}"
        )
    elif started_at is not None and started_at < intro.at - CLOCK_SKEW:
        problem = (
            f"claims a capture started {started_at:%Y-%m-%dT%H:%M:%SZ}, before the key that "
            f"signed it ({short}) was made ({intro.at:%Y-%m-%dT%H:%M:%SZ}): a later key "
            "cannot claim it"
        )
    if problem is not None:
        found.fail(item, problem)
        return False
    if report_ok and intro is not None:
        found.ok(item, f"signed by key {short}, in use since custody entry {intro.seq}")
    return True


def check_store_keys(
    found: Findings,
    chain: Sequence[Any],
    snapshots: Sequence[Any],
    seals: Mapping[str, Any],
    heads: Sequence[Any],
    trusted: Sequence[str],
) -> None:
    """``archiver verify --store``: every seal and custody head is signed by a key
    introduced in the custody log before it, and (pinned) by a published key. Rows as
    the store holds them: custody entries, snapshots, seals by snapshot id, heads."""
    known = introductions((e.seq, e.action, e.subject_id, e.at) for e in chain)
    captures = {
        e.subject_id: e.seq for e in chain if e.action == "capture" and e.subject_type == "snapshot"
    }
    signed: dict[str, set[str]] = {}
    good = True
    for snap in snapshots:
        seal = seals.get(snap.id)
        if seal is None:
            continue
        signed.setdefault(seal.key_fingerprint, set()).add("manifests")
        good &= check_introduced(
            found,
            f"manifest of snapshot {snap.id}",
            seal.key_fingerprint,
            known,
            seq=captures.get(snap.id),
            started_at=snap.started_at,
            report_ok=False,
        )
    for head in heads:
        signed.setdefault(head.key_fingerprint, set()).add("custody heads")
        good &= check_introduced(
            found,
            f"custody head {head.id}",
            head.key_fingerprint,
            known,
            head_seq=head.seq,
            report_ok=False,
        )
    if good and signed:
        found.ok(
            "keys",
            f"every manifest and custody head is signed by a key introduced in the custody "
            f"log before it ({len(signed)} key{'s' if len(signed) > 1 else ''})",
        )
    check_pins(found, signed, trusted)
