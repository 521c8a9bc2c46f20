"""Fixtures for WARC tests: a fixed clock (from tests/conftest.py) and predictable ids."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

import pytest

from archiver.capture.warc import WarcWriter
from tests.conftest import FixedClock


class SequentialIds:
    """uuid 00000000-...-000000000001, ...002, ...: ids a test can write down."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> uuid.UUID:
        self.count += 1
        return uuid.UUID(int=self.count)


@pytest.fixture
def ids() -> SequentialIds:
    return SequentialIds()


@pytest.fixture
def make_writer(clock: FixedClock) -> Callable[[], tuple[WarcWriter, io.BytesIO]]:
    """A writer on an in-memory stream with the fixed clock and fresh sequential ids."""

    def build() -> tuple[WarcWriter, io.BytesIO]:
        out = io.BytesIO()
        return WarcWriter(out, clock=clock, id_factory=SequentialIds()), out

    return build
