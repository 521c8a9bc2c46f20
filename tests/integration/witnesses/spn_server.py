"""A local Save Page Now (SPN2) for the tests, served as web.archive.org by the
simulated web: the documented request and answer shapes.

``POST /save`` (form field ``url``; ``Authorization: LOW <access>:<secret>``;
``Accept: application/json``) -> ``{"url", "job_id"}``; ``GET /save/status/<job_id>``
-> ``{"status": "pending"}`` then ``{"status": "success", "timestamp",
"original_url"}``. Scripted answers stand in for its limits: HTTP 429 with
``Retry-After``, or ``{"status": "error", "status_ext": "error:user-session-limit"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.simweb import Response
from tests.simweb.messages import Request

JSON = "application/json"


@dataclass
class SavePageNowServer:
    access: str
    secret: str
    # Polls answered "pending" before a job succeeds.
    pending_polls: int = 1
    # Answers to the next POSTs, before normal service: Response objects.
    script: list[Response] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)
    jobs: dict[str, dict[str, object]] = field(default_factory=dict)
    # What the archive's copy of each captured URL holds, served raw at /web/<ts>id_/<url>
    # (None: not replayable yet, as a fresh capture may not be indexed).
    copies: dict[str, str | None] = field(default_factory=dict)
    replays: list[str] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        if parts.path.startswith("/web/"):
            # Replay needs no keys: /web/<timestamp>id_/<original URL>.
            original = parts.path.split("id_/", 1)[1]
            self.replays.append(original)
            copy = self.copies.get(original)
            if copy is None:
                return _json(404, {"status": "error", "message": "not in the archive yet"})
            return Response(
                200, copy, headers={"Memento-Datetime": "Fri, 02 Jan 2026 03:04:35 GMT"}
            )
        if request.headers.get("authorization") != f"LOW {self.access}:{self.secret}":
            return _json(401, {"status": "error", "message": "You need to be logged in."})
        if parts.path == "/save" and request.method == "POST":
            url = parse_qs(request.body.decode())["url"][0]
            self.submitted.append(url)
            if self.script:
                return self.script.pop(0)
            job_id = f"spn2-{len(self.jobs) + 1:040x}"
            self.jobs[job_id] = {"url": url, "polls": 0}
            return _json(200, {"url": url, "job_id": job_id})
        if parts.path.startswith("/save/status/"):
            job_id = parts.path.rsplit("/", 1)[1]
            self.polls.append(job_id)
            job = self.jobs[job_id]
            polls = int(str(job["polls"]))
            job["polls"] = polls + 1
            if polls < self.pending_polls:
                return _json(200, {"status": "pending", "job_id": job_id, "resources": []})
            return _json(
                200,
                {
                    "status": "success",
                    "job_id": job_id,
                    "original_url": job["url"],
                    "timestamp": "20260102030435",
                    "duration_sec": 6.2,
                    "resources": [job["url"]],
                },
            )
        return _json(404, {"status": "error", "message": "not found"})


def _json(code: int, data: dict[str, object], headers: dict[str, str] | None = None) -> Response:
    return Response(code, json.dumps(data), headers=headers, content_type=JSON)


def rate_limited(retry_after: int) -> Response:
    """HTTP 429, as Save Page Now answers too many requests."""
    return _json(
        429,
        {"status": "error", "message": "Too Many Requests"},
        headers={"Retry-After": str(retry_after)},
    )


def spn_error(status_ext: str, message: str) -> Response:
    """An error answered with 200, as SPN2 does for its own limits and refusals."""
    return _json(200, {"status": "error", "status_ext": status_ext, "message": message})
