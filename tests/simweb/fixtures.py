"""pytest fixtures for the simulated web.

Kept apart from the package so that importing ``tests.simweb`` (benchmarks, scripts) does not
need pytest. Use from a conftest.py or a test module::

    from tests.simweb.fixtures import simweb  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.simweb.web import SimulatedWeb


@pytest.fixture
def simweb() -> Iterator[SimulatedWeb]:
    """A running simulated web, closed after the test. A handler that raised during the test
    fails it at teardown: a 500 from a broken handler would otherwise pass for a scripted
    server error."""
    with SimulatedWeb() as web:
        yield web
        errors = web.errors
    if errors:
        pytest.fail("simulated web handler errors:\n" + "\n".join(errors), pytrace=False)
