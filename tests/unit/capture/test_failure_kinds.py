"""No failure without a reason (issue 20): a failure of kind "other" always names the
exception behind it, and a browser capture that displayed nothing says why, with a kind
of its own."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import httpcore
import pytest

from archiver.capture._browser_types import PageCapture
from archiver.capture._http_failures import classify
from archiver.capture.exchange import Failure, FailureKind
from archiver.capture.snapshot import CaptureInput, describe_main, provenance
from archiver.check.signals import signal_from_response

ARCHIVER = Path(__file__).resolve().parents[3] / "archiver"


def test_other_cannot_be_made_without_the_exception() -> None:
    with pytest.raises(ValueError, match=r"Failure\.other"):
        Failure(FailureKind.OTHER, "something went wrong")
    with pytest.raises(ValueError):
        Failure(FailureKind.OTHER, "no exception in here", "RuntimeError: boom")
    failure = Failure.other("https://a.example/: the fetch raised", RuntimeError("boom"))
    assert failure.kind is FailureKind.OTHER
    assert failure.message == "https://a.example/: the fetch raised: RuntimeError: boom"
    assert failure.exception == "RuntimeError: boom"
    assert Failure.other("x", KeyError()).message == "x: KeyError"


@pytest.mark.parametrize(
    ("exc", "named"),
    [
        (RuntimeError("boom"), "RuntimeError: boom"),
        (httpcore.PoolTimeout("pool timed out"), "PoolTimeout: pool timed out"),
        (httpcore.UnsupportedProtocol("ftp"), "UnsupportedProtocol: ftp"),
        (ValueError(), "ValueError"),
    ],
)
def test_unforeseen_exceptions_are_named(exc: BaseException, named: str) -> None:
    failure = classify(exc, target="https://a.example/", proxied=True)
    assert failure.kind is FailureKind.OTHER
    assert named in failure.message


def _calls_other(tree: ast.AST) -> list[int]:
    """Lines where ``Failure(FailureKind.OTHER, ...)`` is built directly (it raises)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Failure":
            args = [*node.args, *(k.value for k in node.keywords)]
            if any(ast.unparse(a) == "FailureKind.OTHER" for a in args):
                lines.append(node.lineno)
    return lines


def _other_literals(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value == "other"
    ]


def test_no_module_records_other_without_an_exception() -> None:
    """Every "other" goes through Failure.other: a direct one would raise at run time on
    some rare path, and a bare "other" string would record a failure nobody can read."""
    found = []
    for path in sorted(ARCHIVER.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(ARCHIVER)}:{line}" for line in _calls_other(tree)]
        if path.parent.name in {"capture", "warc", "check"} and path.name != "exchange.py":
            found += [f"{path.relative_to(ARCHIVER)}:{line}" for line in _other_literals(tree)]
    assert found == []


def _page(**changes: object) -> PageCapture:
    fields: dict[str, object] = dict(
        requested_url="https://a.example/post",
        final_url="https://a.example/post",
        title=None,
        main_status=None,
        exchanges=[],
        main_index=None,
        redirect_chain=[],
        screenshot_png=None,
        dom_html=None,
        pdf=None,
        events=[],
        limits_hit=["page_budget: spent before the navigation started"],
        timings={},
        browser_version="Chromium 1",
        user_agent="UA",
        viewport={"width": 1, "height": 1},
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        error="page budget spent before the navigation",
    )
    fields.update(changes)
    return PageCapture(**fields)  # type: ignore[arg-type]


def _capture(page: PageCapture) -> CaptureInput:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return CaptureInput(
        source_id=1,
        url="https://a.example/post",
        cited_as=("https://a.example/post",),
        started_at=now,
        finished_at=now,
        methods=("browser",),
        http_chain=[],
        page=page,
        settings={},
    )


def test_a_browser_capture_that_showed_nothing_says_why() -> None:
    main = describe_main(_capture(_page()))
    assert main.failure_kind == "browser"
    assert main.failure_message == (
        "the browser showed nothing of https://a.example/post: page budget spent before the "
        "navigation; page_budget: spent before the navigation started"
    )
    record = provenance(_capture(_page()), "id", main)["main"]
    assert record["failure"] == "browser"
    assert record["failure_detail"] == main.failure_message
    # The archiver's own trouble: the source is not touched.
    assert signal_from_response(None, FailureKind.BROWSER).implied_state is None


def test_a_crash_is_named_when_nothing_else_is() -> None:
    page = _page(error=None, limits_hit=[], events=[{"type": "page_crash", "at": 0.1}])
    main = describe_main(_capture(page))
    assert main.failure_kind == "browser"
    assert main.failure_message is not None and main.failure_message.endswith(": page_crash")
