"""The service configuration (``config/omnirouter.yaml``), as pydantic models."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, IPvAnyNetwork, field_validator, model_validator

from router.files.config import FilesConfig
from router.wallboard.config import WallboardConfig


class Section(BaseModel):
    # .inf and .nan are floats to YAML: a backoff or a timeout of either is no setting
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Backoff(Section):
    backoff_initial: float
    backoff_max: float

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> Self:
        if self.backoff_max < self.backoff_initial:
            raise ValueError(f"backoff_max ({self.backoff_max:g} s) is below backoff_initial "
                             f"({self.backoff_initial:g} s): every retry would wait backoff_max")
        return self


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535, strict=True)  # `true` is no port (it was 1)
    # the address customers and platforms reach us at, when behind a proxy
    public_url: str | None = None
    shutdown_timeout: float = Field(10.0, gt=0)
    # reverse proxies whose forwarding header names the client (addresses or
    # networks, e.g. [127.0.0.1]); a request from anyone else is taken to come
    # from its own address, whatever header it sends (router/client_address.py)
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    # the header those proxies write: nginx's $proxy_add_x_forwarded_for, or RFC 7239's
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    # seconds a message may take from being taken in to the agents' screens: above
    # it the entry points push back (webhooks answer 503 with Retry-After, the site
    # chat holds its acks, pollers wait) instead of queueing without bound; at least half a
    # second (below it a single slow store call would refuse every webhook), strictly a number
    lag_bound: float = Field(2.0, ge=0.5, le=600, strict=True)
    # the event loop: "uvloop" (libuv's, where it is installed: ~10 % less CPU a message,
    # bench/README.md) or "asyncio" (Python's own, where uvloop is not: Windows)
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        # webhooks are registered at it, Twilio's signatures computed on it, file links made of it:
        # "chat.example.com" without its scheme broke all three without a word
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{value!r} is no web address: give it whole, as https://chat.example.com "
                             "(a path is allowed, a query is not)")
        return value


class StoreConfig(Section):
    # "sqlite": embedded, one node (path below); "postgres": one database for one or
    # several nodes, at the libpq URL in OMNIROUTER_DATABASE_URL (a secret: never in YAML)
    backend: Literal["sqlite", "postgres"] = "sqlite"
    # connections each node keeps to PostgreSQL (its max_connections, default 100, bounds the sum)
    pool_size: int = Field(10, ge=2, le=200)
    path: str = Field("var/omnirouter.db", min_length=1)  # SQLite takes "" as a temporary database, gone at exit
    # "normal" survives a crash of the process; "full" also a power cut, slower
    # ``off`` unquoted is YAML's false: the same
    synchronous: Annotated[Literal["off", "normal", "full"], BeforeValidator(lambda v: "off" if v is False else v)] = (
        "normal")
    # "process": SQL writes in a child process of their own, so they never
    # wait for the event loop's GIL (on a busy 2-core machine a thread
    # saturated ~15 % sooner, with longer waits: bench/README.md); "thread": in
    # a thread of the server (no second process, ~51 MB less; ~10 % less CPU
    # per message at 1,000 msg/s on a quiet machine)
    writer: Literal["process", "thread"] = "process"
    # MiB of database pages each SQLite connection keeps in memory (4 of them: the
    # writer's, the reader's, the checkpointer's, the search index's); a page not
    # kept is read again from the OS's file cache
    cache_mb: int = Field(16, ge=1, le=4096, strict=True)  # `true` is no size
    # ms the SQLite writer waits, at the most, after a transaction of several callers' writes for
    # the next to gather: fewer, larger transactions (less CPU per message) for up to this much
    # more latency per write; a caller writing alone is never held; 0: no wait
    group_commit_ms: float = Field(5.0, ge=0, le=100, strict=True)
    # what the service computes from its config and can compute again (the
    # bot's embeddings of its examples); default: "cache" beside the database
    cache: str | None = None


class RoutingConfig(Section):
    default_team: str = "support"
    default_priority: int = 0


class OutboxConfig(_Backoff):
    # with the backoff below, 15 tries span 17-33 minutes (full jitter): a platform down for
    # minutes loses nothing, where 8 (64-127 s) dead-lettered each recipient's first reply and
    # then sent the ones after it
    max_attempts: int = Field(15, ge=1)
    backoff_initial: float = Field(1.0, gt=0)
    backoff_max: float = Field(300.0, gt=0)
    batch: int = Field(200, ge=1)


class WebhooksConfig(_Backoff):
    """Outbound webhooks (router/webhooks/): how deliveries are retried, and
    whether every subscription may reach private addresses (a lab, a LAN CRM)."""

    max_attempts: int = Field(10, ge=1)
    backoff_initial: float = Field(5.0, gt=0)
    backoff_max: float = Field(3600.0, gt=0)
    timeout: float = Field(10.0, gt=0)
    batch: int = Field(100, ge=1)
    allow_private: bool = False
    # sent deliveries are kept this long for the console; dead letters until redelivered or deleted
    keep_days: float = Field(7.0, gt=0)


class ConsoleConfig(Section):
    session_hours: float = Field(12.0, gt=0, le=876000)  # at most 100 years: more overflowed every login
    # an agent online or away with no console open anywhere (closed without a logout) this long
    # goes offline, as a logout makes them; 0: never (they stay as they are until the session expires)
    absent_minutes: float = Field(5.0, ge=0, le=1440)

    @field_validator("absent_minutes")
    @classmethod
    def _absent_at_least_two_minutes(cls, value: float) -> float:
        if 0 < value < 2:  # agents_ui.attendance marks an open console once a minute
            raise ValueError("0 (never) or at least 2: an open console is marked seen once a minute")
        return value
    # failed logins per username+address before a lock-out, and its length
    login_attempts: int = Field(5, ge=1)
    login_lockout_seconds: float = Field(60.0, gt=0)
    # failed logins from one address, whatever the usernames (a spray of one password over
    # many names), before that address is locked out as long; a success there clears them
    login_attempts_per_address: int = Field(30, ge=1)


class FetchConfig(Section):
    """Fetches the server makes on a user's behalf (an agent's file URL):
    never to a loopback, private, link-local or metadata address, unless the
    host is listed here."""

    # hosts trusted although their addresses are private: "files.lan", "10.0.0.5:8080"
    allow_hosts: list[str] = Field(default_factory=list)
    max_bytes: int = Field(50 * 1024**2, gt=0)
    timeout: float = Field(30.0, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not host.strip() or "/" in host or "@" in host or " " in host.strip():
                raise ValueError(f"{host!r} is not a host: write files.lan or 10.0.0.5:8080, without a scheme or path")
        return hosts


class ConnectorConfig(Section):
    model_config = ConfigDict(extra="allow")
    # the keys of every connector's section, besides its type's own options
    SHARED_KEYS: ClassVar[tuple[str, ...]] = ("type", "enabled")

    type: str
    enabled: bool = True

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Settings(Section):
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    routing: RoutingConfig = RoutingConfig()
    outbox: OutboxConfig = OutboxConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    console: ConsoleConfig = ConsoleConfig()
    fetch: FetchConfig = FetchConfig()
    files: FilesConfig = FilesConfig()
    wallboard: WallboardConfig = WallboardConfig()
    connectors: dict[str, ConnectorConfig] = Field(
        default_factory=lambda: {"webchat": ConnectorConfig(type="webchat")}
    )
