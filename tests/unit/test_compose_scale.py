"""docker-compose.scale.yml (issue 19) holds together without a Docker daemon: every
archiver service runs a command the CLI has, with settings the archiver accepts, on
the PostgreSQL work queue; the queues its workers take exist and cover them all; WARCs
go to the MinIO bucket the compose file makes with Object Lock. The
commands themselves run as plain processes in tests/e2e/test_workers.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver.cli import main
from archiver.config import load_settings
from archiver.queue import QUEUES, parse_queues, uses_procrastinate

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]


def _defaults(value: str) -> str:
    """``${NAME:-default}`` as compose expands it when NAME is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.scale.yml").read_text())
    return data


def test_every_archiver_service_runs_a_known_command_on_the_work_queue() -> None:
    services = _compose()["services"]
    archivers = {name: s for name, s in services.items() if s.get("image") == "evidence-archiver"}
    assert set(archivers) == {"archiver", "worker", "browser-worker"}
    taken: set[str] = set()
    for name, service in archivers.items():
        command = service["command"]
        assert command[0] in {"run", "worker"}, name
        result = CliRunner().invoke(main, [command[0], "--help"])
        assert result.exit_code == 0, result.output
        if "--queues" in command:
            taken |= set(parse_queues(command[command.index("--queues") + 1]))
        env = {k: _defaults(str(v)) for k, v in service["environment"].items()}
        assert all(k.startswith("ARCHIVER_") for k in env), name
        settings = load_settings(environ=env, config_file=REPO / "config" / "archiver.toml")
        assert uses_procrastinate(settings), name
        assert settings.storage.database_url.endswith("@db:5432/archiver")
        assert service["volumes"] == ["archiver-data:/data"], name
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
    assert taken == set(QUEUES)  # every queue has workers
    assert services["archiver"]["command"] == ["run"]
    assert services["db"]["image"].startswith("postgres:")


def test_warcs_go_to_the_minio_bucket_made_with_object_lock() -> None:
    services = _compose()["services"]
    make = " ".join(services["minio-bucket"]["command"])
    bucket = re.search(r"mc mb --ignore-existing --with-lock local/([a-z0-9.-]+)", make)
    assert bucket is not None, make  # Object Lock can only be chosen when the bucket is made
    assert services["minio"]["command"] == ["server", "/data"]
    for name in ("archiver", "worker", "browser-worker"):
        service = services[name]
        env = {k: _defaults(str(v)) for k, v in service["environment"].items()}
        settings = load_settings(environ=env, config_file=REPO / "config" / "archiver.toml")
        storage = settings.storage
        assert storage.warc_url.startswith(f"s3://{bucket.group(1)}/"), name
        assert storage.s3_endpoint == "http://minio:9000", name
        assert storage.object_lock_days > 0, name
        assert storage.s3_access_key_id == _defaults(
            services["minio"]["environment"]["MINIO_ROOT_USER"]
        )
        assert (
            service["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
        )
