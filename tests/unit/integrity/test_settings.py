"""Integrity settings: where the keys live, how long to wait for a TSA."""

from __future__ import annotations

from pathlib import Path

from archiver.config import load_settings


def test_key_dir_defaults_under_the_storage_root(tmp_path: Path) -> None:
    settings = load_settings(environ={"ARCHIVER_STORAGE__ROOT": str(tmp_path)})
    assert settings.keys_dir == tmp_path / "keys"
    moved = load_settings(
        environ={
            "ARCHIVER_INTEGRITY__KEY_DIR": "/run/keys",
            "ARCHIVER_INTEGRITY__TSA_TIMEOUT": "1m",
        }
    )
    assert moved.keys_dir == Path("/run/keys")
    assert moved.integrity.tsa_timeout == 60
