"""Settings from the environment. Secure unless DJANGO_DEBUG / GTX_DEV says otherwise.

GTX_DEV=1 (set by `make run` and `make test`) allows a development SECRET_KEY and
wallet seal key, and plain HTTP; anywhere else SECRET_KEY and GTX_WALLET_KEYS must be
given and the site expects HTTPS (README "Production" lists the environment).
"""

import re
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DEV = env.bool("GTX_DEV", default=False)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="dev-only-not-secret" if DEV else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEV else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Not "daphne": its app only swaps runserver for an ASGI one, and importing it installs Twisted's
# reactor in every process (half a second of each Celery worker's start). Sites serve through
# `manage.py start` (gridtokenx_site.daphne_server).
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "django_prometheus",
    "chain",
    "trading",
    "grid",
    "governance",
    "audit",
    "meters",
    "localnet",  # manage.py network and start: local sites
    "settlement",
    "treasury",
    # Last: installs the state machine (every kind, table and begin-block hook) once the apps are loaded.
    "protocol",
]

MIDDLEWARE = [
    # Request counts and latencies by view for /metrics; first and last so they time the whole stack.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "gridtokenx_site.static_files.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common: the language from the django_language cookie (set by
    # the header's switch), else the browser's Accept-Language, else LANGUAGE_CODE.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "gridtokenx_site.urls"
ASGI_APPLICATION = "gridtokenx_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chain.context_processors.site",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/gridtokenx")}
# Each web process keeps a psycopg pool of at most DB_POOL_MAX_SIZE connections: daphne's
# request threads take one and give it back. A new connection per request costs a
# PostgreSQL server process each time; one kept per thread lets a few sites outgrow the
# server's max_connections. DB_POOL_MAX_SIZE=0: one per thread, kept. Celery's prefork
# workers run one task at a time per process and close the database after each task
# (closing a pool too), so they connect directly.
CELERY_WORKER_PROCESS = "celery" in Path(sys.argv[0]).parts and "worker" in sys.argv
DB_POOL_MAX_SIZE = 0 if CELERY_WORKER_PROCESS else env.int("DB_POOL_MAX_SIZE", default=4)
if DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 1, "max_size": DB_POOL_MAX_SIZE, "timeout": 30}}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, the same as the
            # layer's idle BZPOPMIN: every idle WebSocket would drop after 5 s.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": env("GTX_CHANNEL_PREFIX", default="gtx"),
        },
    }
}
CACHES = {
    "default": {
        "BACKEND": "gridtokenx_site.redis_pool.RedisCache",
        "LOCATION": REDIS_URL,
        # Sites and test runs sharing one Redis keep their keys (e.g. login lockouts) apart.
        "KEY_PREFIX": env("GTX_CHANNEL_PREFIX", default="gtx"),
        "OPTIONS": {"pool_class": "gridtokenx_site.redis_pool.SharedConnectionPool"},
    }
}

CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport with one client per channel, not one per command (redis_pool).
if REDIS_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "gridtokenx_site.redis_pool:BrokerTransport"
# Every task is acknowledged as it starts (no acks_late), so kombu's emulated
# acknowledgements (an unacked hash and index in Redis, written as each message arrives and
# deleted as it starts) guarded only the moment between the two, at two round trips a task:
# about 8 % of a consensus worker's CPU. What a lost task would have done is done again
# anyway: beat's tick steps consensus and finds lost timeouts; a client whose shard answer
# never comes is told so and retries. A worker shut down requeues what it had fetched.
CELERY_BROKER_TRANSPORT_OPTIONS = {"ack_emulation": False}
CELERY_TASK_DEFAULT_QUEUE = env("GTX_CELERY_QUEUE", default="gtx")
# Consensus (chain.*) has a worker of its own (localnet.processes.site_commands);
# table upkeep, and fetches of a proposal's bodies from the peers (which may be slow to
# answer: the consensus worker steps on meanwhile), run beside the other work. The first
# route that matches wins.
GTX_CONSENSUS_QUEUE_SUFFIX = "-consensus"
CELERY_TASK_ROUTES = {
    "chain.vacuum_churning": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "chain.proposal_bodies_fetch": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "chain.followers_push": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "chain.mempool_forward_again": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "chain.scaling_coordinate": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    # Sent to its shard's queue (chain.services.scaling); never to the consensus worker.
    "chain.intake_shard_admit": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "chain.*": {"queue": CELERY_TASK_DEFAULT_QUEUE + GTX_CONSENSUS_QUEUE_SUFFIX},
}
CELERY_TASK_IGNORE_RESULT = True
# Only the shards' intake answers (chain.services.scaling) come back, through Redis, and are
# forgotten once read; a result nobody read expires.
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = 60
# Intake over shards (docs/SCALING.md): "region", "energy" or "load" (chain.sharding); empty,
# the API's intake admits in daphne's own threads. The coordinator measures every
# GTX_SCALING_TICK_S seconds over the last GTX_SCALING_WINDOW_S.
GTX_SHARDING = env("GTX_SHARDING", default="")
if GTX_SHARDING not in ("", "region", "energy", "load"):
    raise ImproperlyConfigured("GTX_SHARDING must be region, energy, load or empty.")
GTX_SCALING_TICK_S = env.float("GTX_SCALING_TICK_S", default=5.0)
GTX_SCALING_WINDOW_S = env.int("GTX_SCALING_WINDOW_S", default=10)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection after every task unless told to
# reuse it: a consensus step would then pay a new PostgreSQL connection each time.
CELERY_DB_REUSE_MAX = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if env.bool("GTX_TEST_FAST_HASHER", default=False):
    # Test runs only: thousands of demo logins would otherwise spend minutes in PBKDF2.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Logins and sign-ups (chain.services.accounts), counted in the Redis cache per client
# network (an IPv4 address, an IPv6 /64). Failed logins per client network; sign-ups per
# client network and for the whole site; password hashes computed at once on this site
# (each costs a core for a fraction of a second: more are answered 429 at once).
GTX_LOGIN_FAILURE_RATE = env("GTX_LOGIN_FAILURE_RATE", default="20/h")
GTX_SIGNUP_RATE = env("GTX_SIGNUP_RATE", default="5/h")
# Wallet key backup exports and imports per person (each runs argon2id on a passphrase or checks
# a password): chain.services.key_backup.
GTX_KEY_BACKUP_RATE = env("GTX_KEY_BACKUP_RATE", default="10/h")
GTX_SIGNUP_SITE_RATE = env("GTX_SIGNUP_SITE_RATE", default="100/h")
GTX_PASSWORD_HASHES_AT_ONCE = env.int("GTX_PASSWORD_HASHES_AT_ONCE", default=1)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "wallet"
LOGOUT_REDIRECT_URL = "home"

# English and Thai (README "Languages"). Django's th formats give Thai month names with
# the Gregorian year: Django has no Buddhist-era calendar. The .mo files are compiled
# from locale/*/LC_MESSAGES/django.po by `make deps`, never committed.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("th", "ไทย")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Asia/Bangkok"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end libraries are served straight from node_modules (package.json, `make` installs them).
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/pico", BASE_DIR / "node_modules/@picocss/pico/css"),
    ("vendor/chartjs", BASE_DIR / "node_modules/chart.js/dist"),
    # ES modules without dependencies: the self-custody wallet imports them as they are.
    ("vendor/noble-ed25519", BASE_DIR / "node_modules/@noble/ed25519"),
    ("vendor/noble-hashes", BASE_DIR / "node_modules/@noble/hashes"),
    ("vendor/noble-ciphers", BASE_DIR / "node_modules/@noble/ciphers"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEV)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# HTTPS outside development. Behind a TLS-terminating proxy, GTX_BEHIND_TLS_PROXY=1 trusts
# its X-Forwarded-Proto; only set it when that proxy always sets (or strips) the header,
# or any client could claim to be on HTTPS.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEV)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("GTX_BEHIND_TLS_PROXY", default=False) else None
)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEV else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEV)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEV)
# Content-Security-Policy (django-csp): scripts and stylesheets only from this site, no
# inline <script> or <style>. Inline style *attributes* stay allowed: the bars of the
# market, grid and governance pages are sized by the server (style="width: 42%"), and an
# attribute can neither run script nor select other elements.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        # Pico's form controls and Swagger UI draw icons from data: URLs.
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Admission refuses new transactions (503) beyond this many waiting in the mempool.
GTX_MEMPOOL_MAX = env.int("GTX_MEMPOOL_MAX", default=60_000)
# Under load, a client's batch is refused (503) once the mempool holds what this site finalized
# in the last GTX_INTAKE_TARGET_MS, measured over its recent blocks (chain.services.admission),
# but never below GTX_INTAKE_MIN_WAITING: accepted work waits about that long, no longer.
GTX_INTAKE_TARGET_MS = env.int("GTX_INTAKE_TARGET_MS", default=500)
GTX_INTAKE_MIN_WAITING = env.int("GTX_INTAKE_MIN_WAITING", default=500)
# ... and (429 sender_busy) beyond this many waiting from one account: a sixtieth of the
# mempool, a fifth of a block, over three times what one benchmark account ever has waiting.
GTX_MEMPOOL_MAX_PER_SENDER = env.int("GTX_MEMPOOL_MAX_PER_SENDER", default=1_000)
# After intake found no room, batches are refused at the door (chain.api.shed) until the site
# commits its next block, and for at most this long before one is let through to measure again.
GTX_INTAKE_SHED_MS = env.int("GTX_INTAKE_SHED_MS", default=2_000)
# Transaction batches one web process holds between its door and their answer; more are
# refused 503 intake_busy at once (chain.api.shed) instead of queueing for a thread.
GTX_INTAKE_IN_FLIGHT = env.int("GTX_INTAKE_IN_FLIGHT", default=4)
# A transaction whose nonce is ahead of the sender's next one (its predecessor went to another
# site and has not arrived by gossip yet) is held, not refused (chain.models.HeldTx): for
# GTX_HOLD_SECONDS, at most GTX_HOLD_MAX_PER_SENDER per sender and that many nonces ahead, and
# GTX_HOLD_MAX in all. Past those it is refused (nonce_gap); one that expires is dropped (nonce_gap).
GTX_HOLD_SECONDS = env.int("GTX_HOLD_SECONDS", default=5)
GTX_HOLD_MAX_PER_SENDER = env.int("GTX_HOLD_MAX_PER_SENDER", default=16)
GTX_HOLD_MAX = env.int("GTX_HOLD_MAX", default=2_000)
# Receipts of dropped transactions (status "dropped" with the reason) are kept this long.
GTX_DROPPED_RECEIPT_DAYS = env.int("GTX_DROPPED_RECEIPT_DAYS", default=7)
# Batches of signed transactions are large; anything bigger is refused with 413 while it
# arrives: by the site's daphne (gridtokenx_site.daphne_server), by the ASGI middleware
# (gridtokenx_site.body_limit) under any other server, and by Django again after.
GTX_MAX_BODY_BYTES = env.int("GTX_MAX_BODY_BYTES", default=4 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = GTX_MAX_BODY_BYTES

# The peer protocol (chain.peer_api, docs/CONSENSUS.md "Peer authentication"). Every POST must be
# signed by an active validator's node key; GETs of status/ and blocks/ (public data, which
# observers sync from) may come unsigned unless GTX_PEER_OPEN_READS is off. Requests per
# second (bursts of twice that), counted in the daphne process: per signing validator, per
# client IP for unsigned reads, and per client IP for refused signatures (past it, requests
# from that IP are refused before any signature work).
GTX_PEER_OPEN_READS = env.bool("GTX_PEER_OPEN_READS", default=True)
GTX_PEER_RATE_PER_S = env.int("GTX_PEER_RATE_PER_S", default=500)
GTX_PEER_OPEN_RATE_PER_S = env.int("GTX_PEER_OPEN_RATE_PER_S", default=50)
GTX_PEER_REFUSED_RATE_PER_S = env.int("GTX_PEER_REFUSED_RATE_PER_S", default=20)
# A follower (a registered node that does not vote: an inactive validator record) may gossip
# its users' transactions and read, at this many requests a second.
GTX_PEER_FOLLOWER_RATE_PER_S = env.int("GTX_PEER_FOLLOWER_RATE_PER_S", default=50)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Bodies DRF parses go through the node's one strict decoder (400 malformed_json, never a 500).
    "DEFAULT_PARSER_CLASSES": ["chain.api.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "chain.api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # Throttles key on REMOTE_ADDR; X-Forwarded-For counts only behind this many trusted proxies.
    "NUM_PROXIES": env.int("GTX_NUM_PROXIES", default=0),
    # Transaction intake per client IP, counted in the Redis cache (docs/API.md, Rate limits):
    # requests, and the transactions they carry. One client batching for a whole market (the
    # benchmarks: 320 requests and 192,000 orders a minute) fits; a flood of requests does not.
    "DEFAULT_THROTTLE_RATES": {
        "tx_submit": env("GTX_TX_SUBMIT_RATE", default="1200/min"),
        "tx_submit_items": env("GTX_TX_SUBMIT_ITEMS_RATE", default="240000/min"),
    },
}
# Orders, cancels, transfers and bonds signed in the browser, per user, counted in the Redis
# cache (chain.services.rate_limits). Written like the throttle rates: "60/min", "5/s".
GTX_BROWSER_WRITE_RATE = env("GTX_BROWSER_WRITE_RATE", default="60/min")
# WebSocket streams (ws/chain/, ws/market/, ws/grid/) open at once from one client address,
# per site: a browser holds one or two per tab; more are closed with 4429.
GTX_STREAMS_PER_CLIENT = env.int("GTX_STREAMS_PER_CLIENT", default=64)

# The operator's Prometheus scraper sends this as a bearer token to /metrics; unset, the
# route answers 404. `make run` sets a development token (README "Operations").
GTX_METRICS_TOKEN = env("GTX_METRICS_TOKEN", default="")
SPECTACULAR_SETTINGS = {
    "TITLE": "GridTokenX API",
    "DESCRIPTION": "Peer-to-peer energy trading ledger. Signed transactions, blocks, accounts.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Swagger UI would otherwise send the schema to an online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a "status": each choice set gets a name of its own.
    "ENUM_NAME_OVERRIDES": {
        "TopUpStatusEnum": "treasury.models.TopUpStatus",
        "CashOutStatusEnum": "treasury.models.CashOutStatus",
        "TopUpAskedStatusEnum": "treasury.models.TopUpAskedStatus",
    },
    # The served schema names this chain's zones and slot length (Schemathesis holds the API to it).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "trading.api.market_schema_values",
        "chain.api.schema.bodies_required",
    ],
}

# This site's identity on the network.
GTX_GENESIS_PATH = env("GTX_GENESIS", default=str(BASE_DIR / "thai_market.toml"))
GTX_NODE_KEY_FILE = env("GTX_NODE_KEY_FILE", default=str(BASE_DIR / ".node" / "node_key"))
GTX_NODE_TYPE = env("GTX_NODE_TYPE", default="validator")
# A follower (`start --node-type trader` or `observer`) follows the chain and serves its own
# users, and never proposes or votes (docs/CONSENSUS.md, "Followers").
GTX_FOLLOWER = GTX_NODE_TYPE == "follower"
# The genesis validator this site runs as (`manage.py network` sets it; `init --validator` takes it).
GTX_NODE_NAME = env("GTX_NODE_NAME", default="")


def _peer_urls(text: str) -> dict[str, str]:
    """Parse 'EGAT=http://127.0.0.1:8000,MEA=http://127.0.0.1:8001' into {name: base URL}."""
    urls = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip().startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"GTX_PEER_URLS: {item!r} is not NAME=http(s)://host:port")
        urls[name.strip()] = url.strip().rstrip("/")
    return urls


# Validator name -> base URL of its site; a validator not named here is reached at its genesis url
# (chain.peers.peer_urls). Empty by default: every validator at its genesis url.
GTX_PEER_URLS = _peer_urls(env("GTX_PEER_URLS", default=""))


def _wallet_keys(text: str) -> dict[int, bytes]:
    """Parse '2=<64 hex>,1=<64 hex>' into {version: 32-byte key}: the keys that seal wallets.

    The highest version seals new wallets; the others still open the wallets sealed
    under them until `manage.py reseal_wallets` moves those to the highest.
    """
    from django.core.exceptions import ImproperlyConfigured

    keys = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = re.fullmatch(r"([1-9][0-9]{0,3})=([0-9a-f]{64})", item)
        if match is None:
            raise ImproperlyConfigured("GTX_WALLET_KEYS: each entry is VERSION=<64 lower-case hex> (1-9999)")
        version = int(match[1])
        if version in keys:
            raise ImproperlyConfigured(f"GTX_WALLET_KEYS: version {version} is given twice")
        keys[version] = bytes.fromhex(match[2])
    return keys


# Keys that seal users' wallet keys at rest, by version: never derived from SECRET_KEY,
# so rotating SECRET_KEY touches no wallet. Development alone has a fixed, public key.
GTX_WALLET_KEYS = _wallet_keys(env("GTX_WALLET_KEYS", default=""))
if not GTX_WALLET_KEYS:
    if not DEV:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set GTX_WALLET_KEYS (README: Production), or GTX_DEV=1 for development.")
    GTX_WALLET_KEYS = {1: bytes.fromhex("d5" * 32)}

# Each process logs to its stderr. A refused request (a 4xx, however Django or DRF raised
# it) is one line with no traceback; a 500 keeps its traceback (gridtokenx_site.logs).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals_on_one_line": {"()": "gridtokenx_site.logs.RefusalsOnOneLine"}},
    "formatters": {"site": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["refusals_on_one_line"],
            "formatter": "site",
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
# `manage.py network` (and test sites) write each site's processes' output to
# <run dir>/<site>/site.log, rotated by one writer (localnet.logs.SiteLog): past
# GTX_SITE_LOG_MAX_BYTES the file moves to site.log.1, and GTX_SITE_LOG_BACKUPS old files are kept.
GTX_SITE_LOG_MAX_BYTES = env.int("GTX_SITE_LOG_MAX_BYTES", default=10 * 1024 * 1024)
GTX_SITE_LOG_BACKUPS = env.int("GTX_SITE_LOG_BACKUPS", default=5)

# The block interval (from genesis, passed by `start`). Consensus steps run when
# work or messages arrive and when timeouts fall due (chain.tasks); beat's tick
# (chain.consensus_tick) is the backstop, at the block interval but not more often
# than once a second: each tick costs the worker and beat a few milliseconds of CPU.
GTX_BLOCK_INTERVAL_S = env.int("GTX_BLOCK_INTERVAL_MS", default=1000) / 1000
GTX_TICK_S = max(GTX_BLOCK_INTERVAL_S, 1.0)
CELERY_BEAT_SCHEDULE = {
    # A follower's tick pulls blocks no push brought (chain.follow_tick); a validator's steps consensus.
    "follow-tick" if GTX_FOLLOWER else "consensus-tick": {
        "task": "chain.follow_tick" if GTX_FOLLOWER else "chain.consensus_tick",
        "schedule": GTX_TICK_S,
        "options": {"expires": 2 * GTX_TICK_S},
    },
    # A validator's own gossip is sent once: what its peers missed (they were cut off, or it was
    # jailed and never proposes) goes again, so nothing it acknowledged waits there for good.
    # A follower forwards again in its own tick.
    **(
        {}
        if GTX_FOLLOWER
        else {
            "mempool-forward-again": {
                "task": "chain.mempool_forward_again",
                "schedule": 5.0,
                "options": {"expires": 5},
            }
        }
    ),
    # Every other tick: at 1,500 tx/s that leaves at most about 3,000 dead rows in the mempool.
    "vacuum-churning": {
        "task": "chain.vacuum_churning",
        "schedule": 2 * GTX_TICK_S,
        "options": {"expires": 2 * GTX_TICK_S},
    },
}
if GTX_SHARDING and not GTX_FOLLOWER:
    CELERY_BEAT_SCHEDULE["scaling-coordinate"] = {
        "task": "chain.scaling_coordinate",
        "schedule": GTX_SCALING_TICK_S,
        "options": {"expires": GTX_SCALING_TICK_S},
    }
if env.bool("GTX_DEMO_MARKET", default=False):
    CELERY_BEAT_SCHEDULE["demo-market"] = {
        "task": "trading.demo_market_tick",
        "schedule": 5.0,
        "options": {"expires": 5},
    }
if env.bool("GTX_DEMO_GRID", default=False):
    # The grid simulator: one signed grid_report per second (grid.services.grid_report_tick).
    CELERY_BEAT_SCHEDULE["demo-grid"] = {
        "task": "grid.demo_grid_tick",
        "schedule": 1.0,
        "options": {"expires": 1},
    }

# Treasury: top-ups up to this many whole tokens are confirmed (minted) as soon as they are
# asked for, at a site whose node key is an issuer: the demo's stand-in for a bank's
# payment notice. 0 (the default outside GTX_DEV) leaves every top-up to the issuer's staff.
GTX_TOPUP_AUTO_CONFIRM_TOKENS = env.int("GTX_TOPUP_AUTO_CONFIRM_TOKENS", default=10_000 if DEV else 0)
if GTX_TOPUP_AUTO_CONFIRM_TOKENS > 0:
    # The same for top-ups other sites asked for on chain: the task does nothing unless this
    # site's node key is an issuer (treasury.services.topups_asked_auto_confirm).
    CELERY_BEAT_SCHEDULE["confirm-asked-topups"] = {
        "task": "treasury.confirm_asked_topups",
        "schedule": 2.0,
        "options": {"expires": 2},
    }

# Meters: the MQTT broker the bridge subscribes to; GTX_METERS_DEMO=1 makes
# `manage.py start` run the bridge and the demo meter simulator too.
GTX_MQTT_URL = env("GTX_MQTT_URL", default="mqtt://127.0.0.1:1883")
GTX_METERS_DEMO = env.bool("GTX_METERS_DEMO", default=False)
