"""Configuration as classes: `Config` reads the `HOTLINE_*` variables of the README's
configuration table, types and ranges checked (a bad value stops start-up with a message naming
the variable, in Chinese); `TestingConfig` is what the tests' app starts from (nothing read from
the environment). `flask_settings()` turns either into the keys the app reads
(`app.config[...]`); the domain never reads configuration, it gets values as arguments."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A `HOTLINE_*` variable whose value cannot be used; the message names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable
        self.message = message


def _var(name: str, default: Any, expected: str, *, secret: bool = False,
         **constraints: Any) -> Any:
    """A setting read from `HOTLINE_<name>`; `expected` completes "配置 … 应为…" when its value
    is refused; a secret's value is never repeated in that message."""
    return Field(default, alias=f"HOTLINE_{name}", repr=not secret,
                 json_schema_extra={"expected": expected, "secret": secret}, **constraints)


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("不是 http(s) 地址")
    return value


class Config(BaseModel):
    """The settings of the README's configuration table, with their defaults."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    database_url: str | None = _var(
        "DATABASE_URL", None, " SQLAlchemy 数据库地址（如 postgresql+psycopg://用户@主机:5432/库名）",
        secret=True)
    redis_url: str | None = _var("REDIS_URL", None, " redis:// 或 rediss:// 地址", secret=True)
    secret_key: str | None = _var("SECRET_KEY", None, "非空文本", secret=True)
    instance_path: Path = _var("INSTANCE_PATH", Path("instance"), "目录路径")
    token_ttl_hours: int = _var("TOKEN_TTL_HOURS", 12, "整数（不小于 1）", ge=1)
    secure_cookies: bool = _var("SECURE_COOKIES", False, " 0 或 1")
    login_max_failures: int = _var("LOGIN_MAX_FAILURES", 5, "整数（不小于 1）", ge=1)
    login_window_seconds: int = _var("LOGIN_WINDOW_SECONDS", 900, "整数（不小于 1）", ge=1)
    proxy_count: int = _var("PROXY_COUNT", 0, "整数（不小于 0）", ge=0)
    grid_upload_max_mb: int = _var("GRID_UPLOAD_MAX_MB", 200, "整数（不小于 1）", ge=1)
    upload_max_mb: int = _var("UPLOAD_MAX_MB", 10, "整数（不小于 1）", ge=1)
    map_tile_url: str | None = _var("MAP_TILE_URL", None, " http:// 或 https:// 地址")
    wechat_token: str | None = _var("WECHAT_TOKEN", None, "文本", secret=True)
    wechat_aes_key: str | None = _var("WECHAT_AES_KEY", None, "文本", secret=True)
    wechat_app_id: str | None = _var("WECHAT_APP_ID", None, "文本")
    wechat_app_secret: str | None = _var("WECHAT_APP_SECRET", None, "文本", secret=True)
    wechat_api_base: str = _var("WECHAT_API_BASE", "https://api.weixin.qq.com",
                                " http:// 或 https:// 地址")
    wechat_subscribe_template: str | None = _var("WECHAT_SUBSCRIBE_TEMPLATE", None, "文本")
    wechat_intake_slots: int = _var("WECHAT_INTAKE_SLOTS", 4, "整数（不小于 1）", ge=1)
    wechat_budget_seconds: float = _var("WECHAT_BUDGET_SECONDS", 3.0, "秒数（大于 0，小于 5）",
                                        gt=0, lt=5, allow_inf_nan=False)
    open311_api_keys: tuple[str, ...] = _var("OPEN311_API_KEYS", (), "以逗号分隔的密钥",
                                             secret=True)
    sms_gateway_url: str | None = _var("SMS_GATEWAY_URL", None, " http:// 或 https:// 地址")
    sms_gateway_token: str | None = _var("SMS_GATEWAY_TOKEN", None, "文本", secret=True)
    sms_gateway_timeout: float = _var("SMS_GATEWAY_TIMEOUT", 5.0, "秒数（大于 0）", gt=0,
                                      allow_inf_nan=False)
    police110_keys: str | None = _var("POLICE110_KEYS", None,
                                      " JSON 对象（密钥编号 → 共享密钥，均为文本）", secret=True)
    police110_url: str | None = _var("POLICE110_URL", None, " http:// 或 https:// 地址")
    cti_keys: str | None = _var("CTI_KEYS", None,
                                " JSON 对象（密钥编号 → 共享密钥，均为文本）", secret=True)
    cti_url: str | None = _var("CTI_URL", None, " http:// 或 https:// 地址")
    sip_ws_url: str | None = _var("SIP_WS_URL", None, " ws:// 或 wss:// 地址")
    sip_domain: str | None = _var("SIP_DOMAIN", None, "域名或 IP 地址（不含 sip: 与端口）")
    sip_secret: str | None = _var("SIP_SECRET", None, "文本", secret=True)
    sip_credential_hours: int = _var("SIP_CREDENTIAL_HOURS", 12, "整数（1 至 168）", ge=1, le=168)
    sip_ice_servers: str = _var("SIP_ICE_SERVERS", "[]",
                                " JSON 数组（如 [{\"urls\": \"stun:stun.example:3478\"}]）")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _var(
        "LOG_LEVEL", "INFO", " DEBUG、INFO、WARNING、ERROR 或 CRITICAL")
    log_format: Literal["text", "json"] = _var("LOG_FORMAT", "text", " text 或 json")

    testing: bool = False  # not read from the environment: TestingConfig sets it

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(value)
            except ArgumentError as exc:
                raise ValueError("不是 SQLAlchemy 数据库地址") from exc
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("不是 Redis 地址")
        return value

    _urls = field_validator("map_tile_url", "sms_gateway_url", "police110_url",
                            "wechat_api_base", "cti_url")(_http_url)

    @field_validator("open311_api_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value

    @field_validator("police110_keys", "cti_keys")
    @classmethod
    def _json_object(cls, value: str | None) -> str | None:
        if value is not None:
            keys = json.loads(value)  # JSONDecodeError is a ValueError
            if not isinstance(keys, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
                raise ValueError("不是以文本为值的 JSON 对象")
        return value

    @field_validator("sip_ws_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("ws", "wss") or not parts.netloc:
                raise ValueError("不是 ws(s) 地址")
        return value

    @field_validator("sip_domain")
    @classmethod
    def _sip_domain(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", value):
            raise ValueError("不是域名")
        return value

    @field_validator("sip_ice_servers")
    @classmethod
    def _ice_servers(cls, value: str) -> str:
        servers = json.loads(value)  # JSONDecodeError is a ValueError
        if not isinstance(servers, list) or not all(
                isinstance(s, dict) and isinstance(s.get("urls"), str | list) for s in servers):
            raise ValueError("不是 ICE 服务器的 JSON 数组")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings in `environ` (default: this process's environment); an empty variable
        counts as unset. Raises ConfigError naming the first variable whose value is refused."""
        env = os.environ if environ is None else environ
        names = {field.alias for field in cls.model_fields.values() if field.alias}
        given = {name: env[name] for name in names if env.get(name, "").strip()}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise cls._refusal(exc, given) from None

    @classmethod
    def _refusal(cls, exc: ValidationError, given: Mapping[str, str]) -> ConfigError:
        variable = str(exc.errors()[0]["loc"][0])
        extra: Any = next(f.json_schema_extra for f in cls.model_fields.values()
                          if f.alias == variable)
        shown = ("（所给的值保密，不予显示）" if extra["secret"]
                 else f"，实为“{given.get(variable, '')}”")
        return ConfigError(variable, f"配置 {variable} 应为{extra['expected']}{shown}")

    def flask_settings(self) -> dict[str, Any]:
        """The keys the app reads from `app.config`. Without a secret key one is generated
        once into the instance folder (and kept there)."""
        instance = self.instance_path.resolve()
        return {
            "TESTING": self.testing,
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": self.database_url or f"sqlite:///{instance / 'hotline.db'}",
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": self.secret_key or _generated_secret_key(instance),
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "MAX_CONTENT_LENGTH": 64 * 1024,
            "GRID_UPLOAD_MAX_BYTES": self.grid_upload_max_mb << 20,
            "TOKEN_TTL_HOURS": self.token_ttl_hours,
            # Login throttling, per account and per address: this many failures within the
            # window lock both until the oldest failure leaves it (429 + Retry-After; an admin
            # unlocks).
            "LOGIN_MAX_FAILURES": self.login_max_failures,
            "LOGIN_WINDOW_SECONDS": self.login_window_seconds,
            # Reverse proxies in front of the web processes (nginx: 1); their X-Forwarded-For
            # gives the client's address (login throttling), otherwise the header is ignored.
            "PROXY_COUNT": self.proxy_count,
            "JSON_AS_ASCII": False,
            # The console map draws the grid from our own GeoJSON; a tile layer is optional
            # (e.g. an intranet tile server: https://tiles.example/{z}/{x}/{y}.png).
            "MAP_TILE_URL": self.map_tile_url,
            # Photos and files attached to tickets (worker and department pages).
            "UPLOAD_MAX_BYTES": self.upload_max_mb << 20,
            # Channels (CONTRACT.md): unset = that endpoint answers 503 / refuses.
            "WECHAT_TOKEN": self.wechat_token,
            "WECHAT_AES_KEY": self.wechat_aes_key,
            "WECHAT_APP_ID": self.wechat_app_id,
            # WeChat outbound (customer-service and subscribe messages): without the app id
            # and secret, the WeChat rows of the outbox wait.
            "WECHAT_APP_SECRET": self.wechat_app_secret,
            "WECHAT_API_BASE": self.wechat_api_base,
            "WECHAT_SUBSCRIBE_TEMPLATE": self.wechat_subscribe_template,
            # A burst (web/hooks/wechat.py): pushes per process that run the whole intake at
            # once, and the seconds after which a push is held and answered "number follows".
            "WECHAT_INTAKE_SLOTS": self.wechat_intake_slots,
            "WECHAT_BUDGET_SECONDS": self.wechat_budget_seconds,
            # The 110 desk: JSON {key id: secret}; its base URL for our transfers and acks.
            "POLICE110_KEYS": self.police110_keys,
            "POLICE110_URL": self.police110_url,
            # The call centre (CTI): JSON {key id: secret} signing its events to
            # /hooks/cti/events; its base URL for transfers and the only host recordings
            # are fetched from.
            "CTI_KEYS": self.cti_keys,
            "CTI_URL": self.cti_url,
            # SMS gateway (notifications, callback questionnaires); unset URL = log only.
            "SMS_GATEWAY_URL": self.sms_gateway_url,
            "SMS_GATEWAY_TOKEN": self.sms_gateway_token,
            "SMS_GATEWAY_TIMEOUT": self.sms_gateway_timeout,
            "OPEN311_API_KEYS": self.open311_api_keys,
            # The softphone in /intake (JsSIP over WebSocket to the centre's SIP server, README
            # "The softphone"): unset URL = no softphone. The domain defaults to the URL's host;
            # with a secret each operator gets time-limited credentials for their extension
            # (Kamailio autheph / TURN REST style), without one registers unauthenticated.
            "SIP_WS_URL": self.sip_ws_url,
            "SIP_DOMAIN": self.sip_domain or (urlsplit(self.sip_ws_url).hostname
                                              if self.sip_ws_url else None),
            "SIP_SECRET": self.sip_secret,
            "SIP_CREDENTIAL_HOURS": self.sip_credential_hours,
            "SIP_ICE_SERVERS": json.loads(self.sip_ice_servers),
            # Logging (web.logs.configure_logging, by `hotline` and the workers).
            "LOG_LEVEL": self.log_level,
            "LOG_FORMAT": self.log_format,
        }


class TestingConfig(Config):
    """The tests' app: a fixed secret key, TESTING on, a database in memory unless one is
    given; nothing read from the environment (a developer's HOTLINE_* cannot leak in)."""

    __test__ = False  # not a test class for pytest

    secret_key: str | None = "test"
    database_url: str | None = "sqlite://"
    testing: bool = True


def _generated_secret_key(instance: Path) -> str:
    key_file = instance / "secret_key"
    if not key_file.exists():
        instance.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
