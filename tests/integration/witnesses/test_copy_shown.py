"""Issue 18: pages, the certificate and the evidence package call a third-party copy
what it is ("copy held by web.archive.org, captured ...; retrieved by us on ...")."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from archiver.app import Archive
from archiver.integrity.verify import verify_package
from archiver.web.app import create_app
from archiver.web.tokens import Role, create_token
from tests.integration.witnesses.conftest import GONE, NEVER_ARCHIVED

STATEMENT = (
    "copy held by web.archive.org, captured 2022-10-05 14:02 UTC; "
    "retrieved by us on 2026-01-02 03:04 UTC"
)


@pytest.fixture
def with_copy(archive: Archive) -> Iterator[tuple[Archive, int, str]]:
    [source_id] = archive.find_sources([GONE])
    [outcome] = archive.witnesses.look_up([source_id])
    assert outcome.snapshot_id is not None
    yield archive, source_id, outcome.snapshot_id


def _page(archive: Archive, path: str) -> str:
    import asyncio

    _, token = create_token(archive.db, name="lawyer", role=Role.LAWYER, clock=archive.clock)

    async def get() -> str:
        transport = httpx.ASGITransport(app=create_app(archive, archive.settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            return response.text

    return asyncio.run(get())


def test_the_source_page_says_whose_copy_it_is(with_copy: tuple[Archive, int, str]) -> None:
    archive, source_id, _ = with_copy
    page = _page(archive, f"/sources/{source_id}")
    assert f"not preserved by us; {STATEMENT}" in page
    assert f"<strong>third-party copy</strong>, not captured by us: {STATEMENT}" in page


def test_a_source_without_copy_says_whom_we_asked(archive: Archive) -> None:
    [source_id] = archive.find_sources([NEVER_ARCHIVED])
    archive.witnesses.look_up([source_id])
    page = _page(archive, f"/sources/{source_id}")
    assert "no earlier copy found (archives asked: timetravel.mementoweb.org: failed" in page


def test_the_certificate_and_package_say_third_party_copy(
    with_copy: tuple[Archive, int, str], tmp_path: Path
) -> None:
    archive, source_id, snapshot_id = with_copy
    package = archive.export(str(source_id), tmp_path / "package.zip", snapshot_id=snapshot_id)
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
        html = next(zf.read(n) for n in names if n.endswith("certificate.html")).decode()
    assert STATEMENT in html
    assert "Retrieved by" in html and "Captured by" not in html
    findings = verify_package(package)
    assert not findings.failed, [f for f in findings if f.status != "ok"]


def test_the_status_table_says_it_too(
    with_copy: tuple[Archive, int, str],
) -> None:
    from archiver.store.status import status_table

    archive, _, _ = with_copy
    [never] = archive.find_sources([NEVER_ARCHIVED])
    archive.witnesses.look_up([never])
    table = status_table(archive.status())
    assert f"third-party copy: {STATEMENT}" in table
    assert "no earlier copy found (archives asked: " in table


def test_the_csv_has_a_column_for_it(with_copy: tuple[Archive, int, str]) -> None:
    from archiver.store.status import CSV_COLUMNS, status_rows

    archive, _, _ = with_copy
    [never] = archive.find_sources([NEVER_ARCHIVED])
    archive.witnesses.look_up([never])
    rows = {r["url_as_cited"]: r for r in status_rows(archive.status())}
    assert "third_party_copy" in CSV_COLUMNS
    assert rows[GONE]["third_party_copy"] == STATEMENT
    assert rows[GONE]["preserved"] == "no"
    assert rows[NEVER_ARCHIVED]["third_party_copy"].startswith("no earlier copy found")
