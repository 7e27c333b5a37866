"""Rapport's settings: the one place that reads the environment.

Every setting is an environment variable with a documented default, so one machine runs
with nothing configured (SQLite under ``var/``, everything on 127.0.0.1) and the
scale-out profile changes only variables. Secrets have no default in code.

| variable | default | meaning |
|---|---|---|
| RAPPORT_HOME | current directory | project root (holds config.yml, data/, var/) |
| RAPPORT_PROFILE | embedded | `embedded` (SQLite under var/, one Rasa process) or `scale`: PostgreSQL for every store, Redis lock store, RabbitMQ broker, `endpoints.scale.yml` (bot/deployment_profile.py) |
| RAPPORT_POSTGRES_URL | postgresql://127.0.0.1:5432/rapport (scale) | the database every store uses in the scale profile, unless its own URL is set; created if missing |
| RAPPORT_REDIS_URL | redis://127.0.0.1:6379/1 (scale) | the lock store's Redis (scale profile) |
| RAPPORT_RABBITMQ_QUEUE | rapport_exchange_log | the durable queue Rasa's broker fills and the hub's exchange log consumes (scale profile) |
| RAPPORT_VAR_DIR | $RAPPORT_HOME/var | embedded databases, models, spaCy pipeline, logs |
| RAPPORT_HOST | 127.0.0.1 | interface every service binds to |
| RAPPORT_RASA_PORT | 5005 | Rasa server |
| RAPPORT_ACTIONS_PORT | 5055 | action server |
| RAPPORT_ACTIONS_HOST | 127.0.0.1 | interface the action server binds to (keep it on loopback) |
| RAPPORT_ACTIONS_URL | http://RAPPORT_ACTIONS_HOST:RAPPORT_ACTIONS_PORT | where Rasa reaches the action servers, when that is not where this one binds (a load balancer in front of several) |
| RAPPORT_ACTIONS_SECRET | generated per `rapport run` | shared secret Rasa sends the action server (`X-Rapport-Actions-Secret`) |
| RAPPORT_VERIFICATION_SECRET | generated per `rapport run` | HMAC key for the contact details verification attempts are counted under (set it to keep counts across restarts and share them between action servers) |
| RAPPORT_VERIFY_BREAKER_FAILURES | 10 | failed verifications with one e-mail or postcode, from anyone, that pause verification with it |
| RAPPORT_VERIFY_BREAKER_CONTACTS | 100 | different e-mails/postcodes failing that pause e-mail/postcode verification for everyone |
| RAPPORT_VERIFY_BREAKER_MINUTES | 15 | the window those failures are counted in |
| RAPPORT_HUB_PORT | 8080 | hub (status page, agent console, web chat widget) |
| RAPPORT_RASA_JWT_SECRET | generated per `rapport run` | enables Rasa's HTTP API, JWT-authenticated |
| RAPPORT_RASA_URLS | http://RAPPORT_HOST:RAPPORT_RASA_PORT | every Rasa server a retrained model is loaded into, comma-separated (several Rasa processes: list each; the model file must be at the same path for each) |
| RAPPORT_CRM_BACKEND | sql | `sql` (the CRM database below) or `http` (a brand's CRM API) |
| RAPPORT_CRM_URL | sqlite:///$VAR/crm.db | CRM database (SQLAlchemy URL) |
| RAPPORT_CRM_API_URL | (none) | base URL of the brand's CRM API (backend `http`) |
| RAPPORT_CRM_API_TOKEN | (none) | bearer token for that API (a secret) |
| RAPPORT_CRM_API_TIMEOUT | 5 | seconds per CRM API request |
| RAPPORT_CRM_API_RETRIES | 2 | retries of idempotent CRM API requests |
| RAPPORT_HUB_DB_URL | sqlite:///$VAR/hub.db | handoffs, agents, web chat messages |
| RAPPORT_EVENTS_DB | $VAR/events.db | Rasa's SQLite event broker, read by the hub |
| RAPPORT_TRACKER_DB | $VAR/tracker.db | Rasa's SQLite tracker store |
| RAPPORT_TRACKER_DB_URL | sqlite:///$RAPPORT_TRACKER_DB | Rasa's tracker store as the hub reads it (SQLAlchemy URL; PostgreSQL when scaling out) to make the exchange log complete after a RabbitMQ outage |
| RAPPORT_RABBITMQ_URL | (none: the hub reads the SQL broker); amqp://127.0.0.1:5672/ (scale) | `amqp://user:password@host:port/` of the RabbitMQ Rasa's broker publishes to (endpoints.scale.yml); the hub then consumes it and reconciles from the tracker store; `rapport run` hands Rasa its parts as RAPPORT_RABBITMQ_HOST, _PORT, _USER, _PASSWORD |
| RAPPORT_ENDPOINTS | endpoints.yml | Rasa endpoints file (endpoints.scale.yml to scale out) |
| RAPPORT_TRAIN_EPOCHS_SCALE | 1.0 | multiplies epochs in config.yml (tests train faster) |
| RAPPORT_STATIC_EMBEDDINGS_DIR | $XDG_CACHE_HOME/rapport/wordllama (~/.cache/...) | WordLlama's token table and tokenizer for the intent classifier, fetched once by `rapport nlp build` or the first training (bot/nlu/static_embeddings.py); shared by every checkout and var/ of the user |
| RAPPORT_MAX_MESSAGE_CHARS | 10000 | longer customer messages are refused with a clear answer (NLU reads the first 1,000) |
| RAPPORT_REST_TOKENS | (none: REST refuses every client) | REST integrations and their bearer tokens (secrets), `name=token,other=token2`; tokens of 24+ characters |
| RAPPORT_LOG_LEVEL | INFO | log level of the services |
| RAPPORT_TELEGRAM_TOKEN | (none) | the bot's token from BotFather (a secret); Telegram is off without it |
| RAPPORT_TELEGRAM_WEBHOOK_SECRET | (none) | secret Telegram sends in X-Telegram-Bot-Api-Secret-Token |
| RAPPORT_TELEGRAM_API_URL | https://api.telegram.org/bot | Bot API base URL (tests point it at a fake server) |
| RAPPORT_TELEGRAM_POLLING | 0 | 1: fetch updates by polling instead of a webhook (development) |
| RAPPORT_TELEGRAM_DB_URL | sqlite:///$VAR/telegram.db | durable store of received updates |
| RAPPORT_WEBCHAT_ORIGINS | the hub's URL | comma-separated origins allowed to embed the web chat |
| RAPPORT_PUBLIC_URL | the hub's URL | where customers' browsers reach Rapport (widget, demo) |
| RAPPORT_TRUSTED_PROXIES | (none) | reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed |
| RAPPORT_HUB_SECRET | generated per hub start | signs the console's login form (set it when running several hubs) |
| RAPPORT_HANDOFF_MAX_WAIT | 300 | seconds a customer waits for an agent before a callback is arranged |
| RAPPORT_HANDOFF_PRESENCE | 45 | an agent is online if their console was connected within this many seconds |
| RAPPORT_FLOOD_PER_MINUTE | 30 | messages a minute one conversation may send (any channel); faster gets a 429 / "you're sending messages faster than I can read them" |
| RAPPORT_FLOOD_BURST | 12 | messages a conversation may send at once before that rate applies |
| RAPPORT_WEBCHAT_SESSIONS_PER_HOUR | 30 | new web chat sessions per client address (RAPPORT_TRUSTED_PROXIES) an hour |
| RAPPORT_WEBCHAT_POLLS_PER_SESSION | 3 | long polls one web chat session may hold open at once |
| RAPPORT_WEBCHAT_RETENTION_DAYS | 30 | web chat sessions unused this long are purged with their messages (at start, then hourly) |
| RAPPORT_RETENTION_DAYS | 365 | `rapport privacy purge` deletes exchange-log turns and Rasa's tracker-store and event-broker events older than this |
| RAPPORT_UNVERIFIED_HANDOFFS_PER_HOUR | 3 | handoffs one unverified client may open an hour |
| RAPPORT_ACTION_TIMEOUT_S | 10 | longest Rasa waits for a custom action; then the customer gets an apology (`utter_service_trouble`), not silence |
| RAPPORT_ACTIONS_MAX_BODY_BYTES | 8388608 | largest request the action server reads, and a deflate body's largest inflated size |
| RAPPORT_INBOX_CONFIDENCE | 0.6 | customer messages understood with less confidence than this (or not at all) go to the NLU inbox |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Optional

from bot.errors import RapportError


def _cache_dir(env: Mapping[str, str]) -> Path:
    """RAPPORT_STATIC_EMBEDDINGS_DIR, else the user's cache (XDG_CACHE_HOME, else ~/.cache)."""
    if env.get("RAPPORT_STATIC_EMBEDDINGS_DIR"):
        return Path(env["RAPPORT_STATIC_EMBEDDINGS_DIR"]).resolve()
    cache = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return (Path(cache) / "rapport" / "wordllama").resolve()


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from error


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from error


class SettingsError(RapportError, ValueError):
    """A setting has a value Rapport cannot use."""


def _http_url(env: Mapping[str, str], name: str) -> Optional[str]:
    return _checked_http_url(name, (env.get(name) or "").strip()) or None


def _checked_http_url(name: str, raw: str) -> str:
    if raw and not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must start with http:// or https://, got {raw!r}")
    return raw


def _proxies(raw: str) -> tuple[str, ...]:
    from bot.client_address import parse_networks

    values = tuple(value.strip() for value in raw.split(",") if value.strip())
    try:
        parse_networks(values)
    except ValueError as error:
        raise SettingsError(f"RAPPORT_TRUSTED_PROXIES: {error}") from error
    return values


def _rest_tokens(raw: str) -> tuple[tuple[str, str], ...]:
    """"shop=token1,app=token2" → (("shop", "token1"), ("app", "token2")), checked."""
    import re

    pairs = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, token = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z0-9_]{1,32}", name.strip()):
            raise SettingsError("RAPPORT_REST_TOKENS: each entry is name=token, the name "
                                "1-32 lower-case letters, digits or _")
        if len(token.strip()) < 24:
            raise SettingsError(f"RAPPORT_REST_TOKENS: the token of {name.strip()} must "
                                "have at least 24 characters")
        pairs.append((name.strip(), token.strip()))
    if len({name for name, _ in pairs}) != len(pairs):
        raise SettingsError("RAPPORT_REST_TOKENS: an integration is named twice")
    return tuple(pairs)


def _rabbitmq_url(raw: str) -> Optional[str]:
    if raw and not raw.startswith(("amqp://", "amqps://")):
        raise SettingsError("RAPPORT_RABBITMQ_URL must start with amqp:// or amqps://")
    return raw or None


def _http_urls(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    urls = tuple(_checked_http_url(name, part.strip().rstrip("/"))
                 for part in (env.get(name) or "").split(",") if part.strip())
    if len(set(urls)) != len(urls):
        raise SettingsError(f"{name} names a server twice")
    return urls


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with `Settings.from_env()` and pass it down."""

    home: Path
    var_dir: Path
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    hub_port: int = 8080
    actions_host: str = "127.0.0.1"
    actions_secret: Optional[str] = field(default=None, repr=False)
    actions_endpoint: Optional[str] = None  # RAPPORT_ACTIONS_URL
    rasa_servers: tuple[str, ...] = ()  # RAPPORT_RASA_URLS; () means this machine's Rasa
    verification_secret: Optional[str] = field(default=None, repr=False)
    verify_breaker_failures: int = 10
    verify_breaker_contacts: int = 100
    verify_breaker_minutes: int = 15
    rasa_jwt_secret: Optional[str] = field(default=None, repr=False)
    crm_backend: str = "sql"
    crm_url: str = ""
    crm_api_url: Optional[str] = None
    crm_api_token: Optional[str] = field(default=None, repr=False)
    crm_api_timeout: float = 5.0
    crm_api_retries: int = 2
    hub_db_url: str = ""
    events_db: str = ""
    tracker_db: str = ""
    tracker_db_url: str = ""
    rabbitmq_url: Optional[str] = field(default=None, repr=False)  # holds a password
    endpoints_file: str = "endpoints.yml"
    profile: str = "embedded"
    redis_url: Optional[str] = None
    rabbitmq_queue: str = "rapport_exchange_log"
    train_epochs_scale: float = 1.0
    static_embeddings_dir: Path = field(default_factory=lambda: _cache_dir(os.environ))
    max_message_chars: int = 10000
    rest_tokens: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (name, token)
    log_level: str = "INFO"
    telegram_token: Optional[str] = field(default=None, repr=False)
    telegram_webhook_secret: Optional[str] = field(default=None, repr=False)
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_db_url: str = ""
    telegram_polling: bool = False
    webchat_origins: tuple[str, ...] = ()
    public_url: str = ""
    hub_secret: Optional[str] = field(default=None, repr=False)
    trusted_proxies: tuple[str, ...] = ()
    handoff_max_wait: int = 300
    handoff_presence: int = 45
    flood_per_minute: int = 30
    flood_burst: int = 12
    webchat_sessions_per_hour: int = 30
    webchat_polls_per_session: int = 3
    webchat_retention_days: int = 30
    retention_days: int = 365
    unverified_handoffs_per_hour: int = 3
    actions_max_body_bytes: int = 8 * 1024 * 1024
    action_timeout_s: float = 10.0
    inbox_confidence: float = 0.6

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        """Read every RAPPORT_* variable, applying the documented defaults."""
        env = os.environ if env is None else env
        home = Path(env.get("RAPPORT_HOME") or Path.cwd()).resolve()
        var_dir = Path(env.get("RAPPORT_VAR_DIR") or home / "var").resolve()
        from bot import deployment_profile as scaleout

        profile = (env.get("RAPPORT_PROFILE") or scaleout.EMBEDDED).lower()
        if profile not in scaleout.PROFILES:
            raise SettingsError(f"RAPPORT_PROFILE must be one of {', '.join(scaleout.PROFILES)}, "
                                f"got {profile!r}")
        scale = profile == scaleout.SCALE
        postgres = env.get("RAPPORT_POSTGRES_URL") or scaleout.DEFAULT_POSTGRES_URL

        def database(name: str) -> str:
            return postgres if scale else f"sqlite:///{var_dir / name}"

        return cls(
            home=home,
            var_dir=var_dir,
            host=env.get("RAPPORT_HOST") or "127.0.0.1",
            rasa_port=_int(env, "RAPPORT_RASA_PORT", 5005),
            actions_port=_int(env, "RAPPORT_ACTIONS_PORT", 5055),
            hub_port=_int(env, "RAPPORT_HUB_PORT", 8080),
            actions_host=env.get("RAPPORT_ACTIONS_HOST") or "127.0.0.1",
            actions_secret=env.get("RAPPORT_ACTIONS_SECRET") or None,
            actions_endpoint=_http_url(env, "RAPPORT_ACTIONS_URL"),
            rasa_servers=_http_urls(env, "RAPPORT_RASA_URLS"),
            verification_secret=env.get("RAPPORT_VERIFICATION_SECRET") or None,
            verify_breaker_failures=_int(env, "RAPPORT_VERIFY_BREAKER_FAILURES", 10),
            verify_breaker_contacts=_int(env, "RAPPORT_VERIFY_BREAKER_CONTACTS", 100),
            verify_breaker_minutes=_int(env, "RAPPORT_VERIFY_BREAKER_MINUTES", 15),
            rasa_jwt_secret=env.get("RAPPORT_RASA_JWT_SECRET") or None,
            crm_backend=(env.get("RAPPORT_CRM_BACKEND") or "sql").lower(),
            crm_url=env.get("RAPPORT_CRM_URL") or database("crm.db"),
            crm_api_url=env.get("RAPPORT_CRM_API_URL") or None,
            crm_api_token=env.get("RAPPORT_CRM_API_TOKEN") or None,
            crm_api_timeout=_float(env, "RAPPORT_CRM_API_TIMEOUT", 5.0),
            crm_api_retries=_int(env, "RAPPORT_CRM_API_RETRIES", 2),
            hub_db_url=env.get("RAPPORT_HUB_DB_URL") or database("hub.db"),
            events_db=env.get("RAPPORT_EVENTS_DB") or str(var_dir / "events.db"),
            tracker_db=env.get("RAPPORT_TRACKER_DB") or str(var_dir / "tracker.db"),
            tracker_db_url=env.get("RAPPORT_TRACKER_DB_URL") or (postgres if scale else ""),
            rabbitmq_url=_rabbitmq_url(env.get("RAPPORT_RABBITMQ_URL") or (
                scaleout.DEFAULT_RABBITMQ_URL if scale else "")),
            endpoints_file=env.get("RAPPORT_ENDPOINTS") or (
                "endpoints.scale.yml" if scale else "endpoints.yml"),
            profile=profile,
            redis_url=env.get("RAPPORT_REDIS_URL") or (
                scaleout.DEFAULT_REDIS_URL if scale else None),
            rabbitmq_queue=env.get("RAPPORT_RABBITMQ_QUEUE") or scaleout.DEFAULT_QUEUE,
            train_epochs_scale=_float(env, "RAPPORT_TRAIN_EPOCHS_SCALE", 1.0),
            static_embeddings_dir=_cache_dir(env),
            max_message_chars=_int(env, "RAPPORT_MAX_MESSAGE_CHARS", 10000),
            rest_tokens=_rest_tokens(env.get("RAPPORT_REST_TOKENS") or ""),
            log_level=(env.get("RAPPORT_LOG_LEVEL") or "INFO").upper(),
            telegram_token=env.get("RAPPORT_TELEGRAM_TOKEN") or None,
            telegram_webhook_secret=env.get("RAPPORT_TELEGRAM_WEBHOOK_SECRET") or None,
            telegram_api_url=env.get("RAPPORT_TELEGRAM_API_URL") or "https://api.telegram.org/bot",
            telegram_db_url=env.get("RAPPORT_TELEGRAM_DB_URL") or database("telegram.db"),
            telegram_polling=(env.get("RAPPORT_TELEGRAM_POLLING") or "0").lower() in ("1", "true", "yes"),
            webchat_origins=tuple(o.strip().rstrip("/") for o in
                                  (env.get("RAPPORT_WEBCHAT_ORIGINS") or "").split(",") if o.strip()),
            public_url=(env.get("RAPPORT_PUBLIC_URL") or "").rstrip("/"),
            hub_secret=env.get("RAPPORT_HUB_SECRET") or None,
            trusted_proxies=_proxies(env.get("RAPPORT_TRUSTED_PROXIES") or ""),
            handoff_max_wait=_int(env, "RAPPORT_HANDOFF_MAX_WAIT", 300),
            handoff_presence=_int(env, "RAPPORT_HANDOFF_PRESENCE", 45),
            flood_per_minute=_int(env, "RAPPORT_FLOOD_PER_MINUTE", 30),
            flood_burst=_int(env, "RAPPORT_FLOOD_BURST", 12),
            webchat_sessions_per_hour=_int(env, "RAPPORT_WEBCHAT_SESSIONS_PER_HOUR", 30),
            webchat_polls_per_session=_int(env, "RAPPORT_WEBCHAT_POLLS_PER_SESSION", 3),
            webchat_retention_days=_int(env, "RAPPORT_WEBCHAT_RETENTION_DAYS", 30),
            retention_days=_int(env, "RAPPORT_RETENTION_DAYS", 365),
            unverified_handoffs_per_hour=_int(env, "RAPPORT_UNVERIFIED_HANDOFFS_PER_HOUR", 3),
            actions_max_body_bytes=_int(env, "RAPPORT_ACTIONS_MAX_BODY_BYTES", 8 * 1024 * 1024),
            action_timeout_s=_float(env, "RAPPORT_ACTION_TIMEOUT_S", 10.0),
            inbox_confidence=_float(env, "RAPPORT_INBOX_CONFIDENCE", 0.6),
        )

    def with_changes(self, **changes: object) -> "Settings":
        """A copy with some values replaced (tests, CLI flags)."""
        return replace(self, **changes)

    @property
    def models_dir(self) -> Path:
        return self.var_dir / "models"

    @property
    def spacy_model_dir(self) -> Path:
        return self.var_dir / "spacy" / "en_rapport"

    @property
    def logs_dir(self) -> Path:
        return self.var_dir / "logs"

    @property
    def hub_public_url(self) -> str:
        """The hub as customers' browsers see it (RAPPORT_PUBLIC_URL behind a proxy)."""
        return self.public_url or self.hub_url

    @property
    def allowed_webchat_origins(self) -> tuple[str, ...]:
        return self.webchat_origins or (self.hub_public_url, self.hub_url)

    @property
    def tracker_store_url(self) -> str:
        """Rasa's tracker store as SQLAlchemy reaches it (RAPPORT_TRACKER_DB_URL, else the file)."""
        return self.tracker_db_url or f"sqlite:///{Path(self.tracker_db).expanduser()}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.actions_host}:{self.actions_port}"

    @property
    def model_servers(self) -> tuple[str, ...]:
        """Every Rasa server a retrained model is loaded into (RAPPORT_RASA_URLS)."""
        return self.rasa_servers or (self.rasa_url,)

    @property
    def action_server_url(self) -> str:
        """Where Rasa (and the hub's status page) reach the action servers:
        RAPPORT_ACTIONS_URL, else this action server's own address."""
        return (self.actions_endpoint or self.actions_url).rstrip("/")

    @property
    def action_webhook_url(self) -> str:
        return f"{self.action_server_url}/webhook"

    @property
    def hub_url(self) -> str:
        return f"http://{self.host}:{self.hub_port}"

    def child_env(self) -> dict[str, str]:
        """Environment for the service processes, so all three agree on every value."""
        env = {
            "RAPPORT_HOME": str(self.home),
            "RAPPORT_VAR_DIR": str(self.var_dir),
            "RAPPORT_HOST": self.host,
            "RAPPORT_RASA_PORT": str(self.rasa_port),
            "RAPPORT_ACTIONS_PORT": str(self.actions_port),
            "RAPPORT_ACTIONS_HOST": self.actions_host,
            **({"RAPPORT_ACTIONS_URL": self.actions_endpoint} if self.actions_endpoint else {}),
            **({"RAPPORT_RASA_URLS": ",".join(self.rasa_servers)} if self.rasa_servers else {}),
            "RAPPORT_VERIFY_BREAKER_FAILURES": str(self.verify_breaker_failures),
            "RAPPORT_VERIFY_BREAKER_CONTACTS": str(self.verify_breaker_contacts),
            "RAPPORT_VERIFY_BREAKER_MINUTES": str(self.verify_breaker_minutes),
            "RAPPORT_HUB_PORT": str(self.hub_port),
            "RAPPORT_CRM_BACKEND": self.crm_backend,
            "RAPPORT_CRM_URL": self.crm_url,
            "RAPPORT_CRM_API_TIMEOUT": str(self.crm_api_timeout),
            "RAPPORT_CRM_API_RETRIES": str(self.crm_api_retries),
            "RAPPORT_HUB_DB_URL": self.hub_db_url,
            "RAPPORT_EVENTS_DB": self.events_db,
            "RAPPORT_TRACKER_DB": self.tracker_db,
            "RAPPORT_ENDPOINTS": self.endpoints_file,
            "RAPPORT_PROFILE": self.profile,
            "RAPPORT_RABBITMQ_QUEUE": self.rabbitmq_queue,
            "RAPPORT_MAX_MESSAGE_CHARS": str(self.max_message_chars),
            "RAPPORT_LOG_LEVEL": self.log_level,
            "RAPPORT_TELEGRAM_API_URL": self.telegram_api_url,
            "RAPPORT_TELEGRAM_DB_URL": self.telegram_db_url,
            "RAPPORT_TELEGRAM_POLLING": "1" if self.telegram_polling else "0",
            "RAPPORT_WEBCHAT_ORIGINS": ",".join(self.webchat_origins),
            "RAPPORT_PUBLIC_URL": self.public_url,
            "RAPPORT_HANDOFF_MAX_WAIT": str(self.handoff_max_wait),
            "RAPPORT_HANDOFF_PRESENCE": str(self.handoff_presence),
            "RAPPORT_TRUSTED_PROXIES": ",".join(self.trusted_proxies),
            "RAPPORT_FLOOD_PER_MINUTE": str(self.flood_per_minute),
            "RAPPORT_FLOOD_BURST": str(self.flood_burst),
            "RAPPORT_WEBCHAT_SESSIONS_PER_HOUR": str(self.webchat_sessions_per_hour),
            "RAPPORT_WEBCHAT_POLLS_PER_SESSION": str(self.webchat_polls_per_session),
            "RAPPORT_WEBCHAT_RETENTION_DAYS": str(self.webchat_retention_days),
            "RAPPORT_RETENTION_DAYS": str(self.retention_days),
            "RAPPORT_UNVERIFIED_HANDOFFS_PER_HOUR": str(self.unverified_handoffs_per_hour),
            "RAPPORT_ACTIONS_MAX_BODY_BYTES": str(self.actions_max_body_bytes),
            "RAPPORT_ACTION_TIMEOUT_S": str(self.action_timeout_s),
            "RAPPORT_INBOX_CONFIDENCE": str(self.inbox_confidence),
        }
        optional = {"RAPPORT_RASA_JWT_SECRET": self.rasa_jwt_secret,
                    "RAPPORT_CRM_API_URL": self.crm_api_url,
                    "RAPPORT_CRM_API_TOKEN": self.crm_api_token,
                    "RAPPORT_TELEGRAM_TOKEN": self.telegram_token,
                    "RAPPORT_TELEGRAM_WEBHOOK_SECRET": self.telegram_webhook_secret,
                    "RAPPORT_HUB_SECRET": self.hub_secret,
                    "RAPPORT_TRACKER_DB_URL": self.tracker_db_url,
                    "RAPPORT_REST_TOKENS": ",".join(f"{name}={token}"
                                                    for name, token in self.rest_tokens),
                    "RAPPORT_ACTIONS_SECRET": self.actions_secret,
                    "RAPPORT_VERIFICATION_SECRET": self.verification_secret}
        env.update({name: value for name, value in optional.items() if value})
        if self.rabbitmq_url:
            env["RAPPORT_RABBITMQ_URL"] = self.rabbitmq_url
        if self.redis_url:
            env["RAPPORT_REDIS_URL"] = self.redis_url
        from bot.deployment_profile import ProfileError, endpoint_variables

        try:
            env.update(endpoint_variables(self.tracker_db_url, self.redis_url,
                                          self.rabbitmq_url, self.rabbitmq_queue))
        except ProfileError as error:
            raise SettingsError(str(error)) from error
        return env


def process_env(*overlays: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with `overlays` on top: what a child process Rapport starts
    (validation, training) gets, so it sees PATH and the rest as the parent does."""
    env = dict(os.environ)
    for overlay in overlays:
        env.update(overlay)
    return env
