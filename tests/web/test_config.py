"""Configuration as classes (web.config): the HOTLINE_* variables of the README's table, their
defaults, their types checked; a bad value stops start-up with a message naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from web.app import create_app
from web.config import Config, ConfigError, TestingConfig


def test_defaults_when_nothing_is_set(tmp_path: Path):
    config = Config.from_environment({"HOTLINE_INSTANCE_PATH": str(tmp_path)})
    settings = config.flask_settings()
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'hotline.db'}"
    assert settings["REDIS_URL"] is None
    assert settings["TOKEN_TTL_HOURS"] == 12
    assert settings["SESSION_COOKIE_SECURE"] is False
    assert (settings["LOGIN_MAX_FAILURES"], settings["LOGIN_WINDOW_SECONDS"]) == (5, 900)
    assert settings["PROXY_COUNT"] == 0
    assert settings["GRID_UPLOAD_MAX_BYTES"] == 200 << 20
    assert settings["UPLOAD_MAX_BYTES"] == 10 << 20
    assert settings["SMS_GATEWAY_TIMEOUT"] == 5.0
    assert (settings["WECHAT_INTAKE_SLOTS"], settings["WECHAT_BUDGET_SECONDS"]) == (4, 3.0)
    assert settings["OPEN311_API_KEYS"] == ()
    assert settings["WECHAT_TOKEN"] is None and settings["POLICE110_KEYS"] is None
    assert (settings["LOG_LEVEL"], settings["LOG_FORMAT"]) == ("INFO", "text")
    # Without HOTLINE_SECRET_KEY one is generated into the instance folder, then kept.
    key = (tmp_path / "secret_key").read_text().strip()
    assert settings["SECRET_KEY"] == key and len(key) == 64
    assert config.flask_settings()["SECRET_KEY"] == key


def test_set_variables_are_read_with_their_types(tmp_path: Path):
    config = Config.from_environment({
        "HOTLINE_INSTANCE_PATH": str(tmp_path), "HOTLINE_SECRET_KEY": "s3cret",
        "HOTLINE_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5432/h",
        "HOTLINE_REDIS_URL": "redis://127.0.0.1:6379/3",
        "HOTLINE_TOKEN_TTL_HOURS": "24", "HOTLINE_SECURE_COOKIES": "1",
        "HOTLINE_UPLOAD_MAX_MB": "3", "HOTLINE_SMS_GATEWAY_TIMEOUT": "2.5",
        "HOTLINE_OPEN311_API_KEYS": " k1, k2 ,,", "HOTLINE_POLICE110_KEYS": '{"desk": "s"}',
        "HOTLINE_LOG_LEVEL": "debug", "HOTLINE_LOG_FORMAT": "JSON",
        "HOTLINE_PROXY_COUNT": "",  # empty counts as unset
        "HOTLINE_SOMETHING_ELSE": "ignored"})
    settings = config.flask_settings()
    assert settings["SECRET_KEY"] == "s3cret" and not (tmp_path / "secret_key").exists()
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1:5432/h"
    assert settings["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert settings["TOKEN_TTL_HOURS"] == 24 and settings["SESSION_COOKIE_SECURE"] is True
    assert settings["UPLOAD_MAX_BYTES"] == 3 << 20
    assert settings["SMS_GATEWAY_TIMEOUT"] == 2.5
    assert settings["OPEN311_API_KEYS"] == ("k1", "k2")
    assert settings["POLICE110_KEYS"] == '{"desk": "s"}'
    assert (settings["LOG_LEVEL"], settings["LOG_FORMAT"]) == ("DEBUG", "json")
    assert settings["PROXY_COUNT"] == 0
    assert "s3cret" not in repr(config)  # secrets stay out of tracebacks and logs


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("HOTLINE_TOKEN_TTL_HOURS", "abc", "整数（不小于 1）"),
    ("HOTLINE_TOKEN_TTL_HOURS", "0", "整数（不小于 1）"),
    ("HOTLINE_PROXY_COUNT", "-1", "整数（不小于 0）"),
    ("HOTLINE_SECURE_COOKIES", "maybe", " 0 或 1"),
    ("HOTLINE_SMS_GATEWAY_TIMEOUT", "nan", "秒数（大于 0）"),
    ("HOTLINE_WECHAT_INTAKE_SLOTS", "0", "整数（不小于 1）"),
    ("HOTLINE_WECHAT_BUDGET_SECONDS", "6", "秒数（大于 0，小于 5）"),
    ("HOTLINE_MAP_TILE_URL", "tiles/{z}", " http:// 或 https:// 地址"),
    ("HOTLINE_LOG_FORMAT", "xml", " text 或 json"),
    ("HOTLINE_LOG_LEVEL", "loud", " DEBUG、INFO、WARNING、ERROR 或 CRITICAL"),
])
def test_a_bad_value_is_refused_naming_the_variable(variable, value, expected):
    with pytest.raises(ConfigError) as refused:
        Config.from_environment({variable: value})
    assert refused.value.variable == variable
    assert str(refused.value) == f"配置 {variable} 应为{expected}，实为“{value}”"


@pytest.mark.parametrize(("variable", "value"), [
    ("HOTLINE_DATABASE_URL", "postgres password=hunter2"),
    ("HOTLINE_REDIS_URL", "http://:hunter2@127.0.0.1:6379"),
    ("HOTLINE_POLICE110_KEYS", '{"desk": hunter2}'),
])
def test_a_bad_secret_is_refused_without_repeating_it(variable, value):
    with pytest.raises(ConfigError) as refused:
        Config.from_environment({variable: value})
    assert refused.value.variable == variable
    assert str(refused.value).startswith(f"配置 {variable} 应为")
    assert "hunter2" not in str(refused.value) and "保密" in str(refused.value)


def test_the_app_does_not_start_with_a_bad_value(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HOTLINE_TOKEN_TTL_HOURS", "abc")
    with pytest.raises(ConfigError, match="HOTLINE_TOKEN_TTL_HOURS"):
        create_app()
    assert not (tmp_path / "secret_key").exists()  # refused before anything is written


def test_hotline_stops_with_the_message_and_touches_nothing(tmp_path: Path):
    from web.cli.main import main

    db = tmp_path / "cli.db"
    result = CliRunner().invoke(main, ["db", "upgrade"], env={
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTLINE_DATABASE_URL": f"sqlite:///{db}", "HOTLINE_LOGIN_MAX_FAILURES": "five"})
    assert result.exit_code == 1
    assert "配置 HOTLINE_LOGIN_MAX_FAILURES 应为整数（不小于 1），实为“five”" in result.output
    assert not db.exists() and not (tmp_path / "instance").exists()


def test_the_environment_reaches_the_app(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'e.db'}")
    monkeypatch.setenv("HOTLINE_TOKEN_TTL_HOURS", "7")
    monkeypatch.setenv("HOTLINE_MAP_TILE_URL", "https://tiles.example/{z}/{x}/{y}.png")
    app = create_app({"SECRET_KEY": "x"})  # an override wins over the environment
    assert app.config["TOKEN_TTL_HOURS"] == 7 and app.config["SECRET_KEY"] == "x"
    assert app.config["MAP_TILE_URL"] == "https://tiles.example/{z}/{x}/{y}.png"
    assert app.instance_path == str(tmp_path)


def test_testing_config_reads_nothing_from_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HOTLINE_TOKEN_TTL_HOURS", "abc")  # would stop Config
    monkeypatch.setenv("HOTLINE_REDIS_URL", "redis://127.0.0.1:1/0")
    app = create_app(config=TestingConfig(instance_path=tmp_path / "instance"))
    assert app.config["TESTING"] is True and app.config["SECRET_KEY"] == "test"
    assert app.config["REDIS_URL"] is None and app.config["TOKEN_TTL_HOURS"] == 12
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite://"
    assert re.fullmatch(r".*/instance", app.instance_path)
