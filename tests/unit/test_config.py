from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hsmkms.config import ConfigError, load, parse_duration


@pytest.mark.parametrize(
    ("value", "expected"),
    [(30, 30), ("90s", 90), ("15m", 900), ("12h", 43200), ("7d", 604800), ("1.5h", 5400)],
)
def test_durations(value: object, expected: float) -> None:
    assert parse_duration(value, "x") == timedelta(seconds=expected)


@pytest.mark.parametrize("value", ["", "7 days", "-1s", 0, True, "1w"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ConfigError, match="x"):
        parse_duration(value, "x")


def _write(tmp_path: Path, extra: str) -> Path:
    pin = tmp_path / "pin"
    pin.write_text("1234\n")
    pin.chmod(0o600)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[hsm]\nmodule = "/m.so"\ntoken_label = "t"\npin_file = "pin"\n'
        f'[store]\nurl = "sqlite://"\n{extra}'
    )
    return config


def test_lifecycle_section(tmp_path: Path) -> None:
    settings = load(
        _write(tmp_path, '[lifecycle]\nmin_pending_period = "1h"\nscheduler_interval = 2\n')
    )
    assert settings.lifecycle.min_pending_period == timedelta(hours=1)
    assert settings.lifecycle.default_pending_period == timedelta(days=7)
    assert settings.scheduler_interval == 2
    assert settings.token.pin == "1234" and "1234" not in repr(settings)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[lifecycle]\nmin_pending_period = "8d"\n', "default_pending_period"),
        ('[lifecycle]\nbogus = "1d"\n', "lifecycle.bogus"),
    ],
)
def test_bad_lifecycle(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(_write(tmp_path, extra))


def test_systemd_credentials_are_accepted_despite_their_acl_mask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hsmkms.config import read_secret_file

    credentials = tmp_path / "creds"
    credentials.mkdir()
    pin = credentials / "hsm-pin"
    pin.write_text("1234")
    pin.chmod(0o440)  # what an ACL mask looks like in the mode bits
    with pytest.raises(ConfigError, match="chmod 600"):
        read_secret_file(pin)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert read_secret_file(pin) == "1234"
    elsewhere = tmp_path / "pin"
    elsewhere.write_text("1234")
    elsewhere.chmod(0o640)
    with pytest.raises(ConfigError):
        read_secret_file(elsewhere)


def test_store_only_commands_need_no_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[hsm]\nmodule = "/m.so"\ntoken_label = "t"\npin_env = "NO_SUCH_PIN_VAR"\n[store]\nurl = "sqlite://"\n'
    )
    with pytest.raises(ConfigError, match="NO_SUCH_PIN_VAR"):
        load(config)
    assert load(config, read_pin=False).token.pin == ""
