from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from archiver.config import Settings, load_settings, parse_duration
from archiver.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_default_file_matches_builtin_defaults() -> None:
    with (REPO / "config" / "archiver.toml").open("rb") as fh:
        data = tomllib.load(fh)
    assert Settings.model_validate(data) == Settings()
    # ...and it documents every setting there is.
    # (TOML has no null: a setting whose default is None is shown commented out.)
    for section, field in Settings.model_fields.items():
        assert field.annotation is not None
        fields = field.annotation.model_fields
        required = {name for name, f in fields.items() if f.default is not None}
        assert required <= set(data[section]) <= set(fields), section
        for name in set(fields) - set(data[section]):
            assert f"# {name} = " in (REPO / "config" / "archiver.toml").read_text(), name


def test_env_overrides_file_and_defaults(tmp_path: Path) -> None:
    config = tmp_path / "a.toml"
    config.write_text('[network]\ntimeout = "2m"\nproxy = "http://proxy:3128"\n')
    settings = load_settings(
        config,
        environ={
            "ARCHIVER_NETWORK__PROXY": "socks5://127.0.0.1:9050",
            "ARCHIVER_CHECK__CONFIRM_AFTER": "0",
            "ARCHIVER_INTEGRITY__TSA_URLS": '["http://tsa.example/a"]',
            "ARCHIVER_NETWORK__ALLOW_PRIVATE_NETWORKS": "true",
            "UNRELATED": "x",
        },
    )
    assert settings.network.timeout == 120
    assert settings.network.proxy == "socks5://127.0.0.1:9050"
    assert settings.network.allow_private_networks is True
    assert settings.check.confirm_after == 0
    assert settings.integrity.tsa_urls == ("http://tsa.example/a",)


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    config = tmp_path / "b.toml"
    config.write_text('[storage]\nroot = "/srv/evidence"\n')
    settings = load_settings(environ={"ARCHIVER_CONFIG": str(config)})
    assert settings.storage.root == Path("/srv/evidence")
    assert settings.storage.resolved_database_url() == "sqlite:////srv/evidence/archiver.db"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError):
        settings.network.proxy = "http://x:1"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ARCHIVER_NETWORK__TIMEOUT": "soon"}, "network.timeout"),
        ({"ARCHIVER_NETWORK__TIMEOUT": "-5"}, "network.timeout"),
        ({"ARCHIVER_NETWORK__PROXY": "ftp://proxy:21"}, "network.proxy"),
        ({"ARCHIVER_NETWORK__PROXI": "http://p:1"}, "unknown setting network.proxi"),
        ({"ARCHIVER_NETWRK__PROXY": "http://p:1"}, "unknown section [netwrk]"),
        ({"ARCHIVER_PROXY": "http://p:1"}, "ARCHIVER_<SECTION>__<KEY>"),
        ({"ARCHIVER_STORAGE__DATABASE_URL": "mysql://x/y"}, "storage.database_url"),
        ({"ARCHIVER_INTEGRITY__TSA_URLS": '["file:///etc/passwd"]'}, "integrity.tsa_urls"),
        ({"ARCHIVER_DAEMON__LOG_LEVEL": "loud"}, "daemon.log_level"),
        ({"ARCHIVER_HARVEST__MAX_REPORT_BYTES": "0"}, "harvest.max_report_bytes"),
    ],
)
def test_bad_values_name_the_setting_and_its_origin(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=environ)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_bad_file_is_reported_with_its_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[network\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: invalid TOML"):
        load_settings(broken, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", environ={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[network]\nspeed = 3\n")
    with pytest.raises(ConfigError, match=r"network.speed: unknown setting \(from config file"):
        load_settings(unknown, environ={})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),
        (90, 90),
        ("90", 90),
        ("15m", 900),
        ("6h", 21600),
        ("2d", 172800),
        ("1w", 604800),
        (1.5, 1.5),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "6 hours", "h", True, None, [1]])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_proxy_password_never_displayed() -> None:
    settings = load_settings(environ={"ARCHIVER_NETWORK__PROXY": "http://alice:s3cret@proxy:3128"})
    shown = settings.network.proxy_for_display()
    assert "s3cret" not in shown and "alice" not in shown
    assert shown == "http://***@proxy:3128"


def test_readme_settings_table_is_one_table_naming_every_section() -> None:
    """Finding: a blank line broke the README's settings table in two (the second half,
    the web settings, rendered as plain text). One table, every section in it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = lines.index("| setting | default | meaning |")
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    named = {line.split("`")[1].split(".")[0] for line in table[2:] if "`" in line}
    sections = set(Settings.model_fields)
    assert sections <= named, sorted(sections - named)
