"""Settings from the environment. Secure unless DJANGO_DEBUG / GTX_DEV says otherwise.

GTX_DEV=1 (set by `make run` and `make test`) allows a generated development
SECRET_KEY; anywhere else SECRET_KEY must be given.
"""

import sys
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DEV = env.bool("GTX_DEV", default=False)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="dev-only-not-secret" if DEV else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEV else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
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
    "chain",
    "trading",
    "grid",
    "governance",
    "audit",
    "meters",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Sites and test runs sharing one Redis keep their keys (e.g. login lockouts) apart.
        "KEY_PREFIX": env("GTX_CHANNEL_PREFIX", default="gtx"),
        "OPTIONS": {"pool_class": "gridtokenx_site.redis_pool.SharedConnectionPool"},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = env("GTX_CELERY_QUEUE", default="gtx")
# Consensus (chain.*) has a worker of its own (gridtokenx_site.processes.site_commands);
# table upkeep runs beside the other work. The first route that matches wins.
GTX_CONSENSUS_QUEUE_SUFFIX = "-consensus"
CELERY_TASK_ROUTES = {
    "chain.vacuum_churning": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "chain.*": {"queue": CELERY_TASK_DEFAULT_QUEUE + GTX_CONSENSUS_QUEUE_SUFFIX},
}
CELERY_TASK_IGNORE_RESULT = True
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "wallet"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
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
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEV)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Admission refuses new transactions (503) beyond this many waiting in the mempool.
GTX_MEMPOOL_MAX = env.int("GTX_MEMPOOL_MAX", default=60_000)
# Batches of signed transactions are large; anything bigger is refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("GTX_MAX_BODY_BYTES", default=4 * 1024 * 1024)

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
    # Transaction intake per client IP, counted in the Redis cache. Generous so that
    # benchmarks pushing thousands of transactions a second in batches are not slowed.
    "DEFAULT_THROTTLE_RATES": {"tx_submit": env("GTX_TX_SUBMIT_RATE", default="30000/min")},
}
# Orders, cancels, transfers and bonds signed in the browser, per user, counted in the Redis
# cache (chain.services.rate_limits). Written like the throttle rates: "60/min", "5/s".
GTX_BROWSER_WRITE_RATE = env("GTX_BROWSER_WRITE_RATE", default="60/min")
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
# The genesis validator this site runs as (`manage.py network` sets it; `init --validator` takes it).
GTX_NODE_NAME = env("GTX_NODE_NAME", default="")


def _peer_urls(text: str) -> dict[str, str]:
    """Parse 'EGAT=http://127.0.0.1:8000,MEA=http://127.0.0.1:8001' into {name: base URL}."""
    from django.core.exceptions import ImproperlyConfigured

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
# Key that seals users' wallet keys at rest; defaults to one derived from SECRET_KEY.
GTX_WALLET_SEAL_KEY = env("GTX_WALLET_SEAL_KEY", default="")

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
# <run dir>/<site>/site.log, rotated by one writer (gridtokenx_site.logs.SiteLog): past
# GTX_SITE_LOG_MAX_BYTES the file moves to site.log.1, and GTX_SITE_LOG_BACKUPS old files are kept.
GTX_SITE_LOG_MAX_BYTES = env.int("GTX_SITE_LOG_MAX_BYTES", default=10 * 1024 * 1024)
GTX_SITE_LOG_BACKUPS = env.int("GTX_SITE_LOG_BACKUPS", default=5)

# The block interval (from genesis, passed by `start`). Consensus steps run when
# work or messages arrive and when timeouts fall due (chain.tasks); beat's tick
# is the backstop, at the block interval but not more often than once a second:
# each tick costs the worker and beat a few milliseconds of CPU.
GTX_BLOCK_INTERVAL_S = env.int("GTX_BLOCK_INTERVAL_MS", default=1000) / 1000
GTX_TICK_S = max(GTX_BLOCK_INTERVAL_S, 1.0)
CELERY_BEAT_SCHEDULE = {
    "produce-block": {
        "task": "chain.produce_block",
        "schedule": GTX_TICK_S,
        "options": {"expires": 2 * GTX_TICK_S},
    },
    # Every other tick: at 1,500 tx/s that leaves at most about 3,000 dead rows in the mempool.
    "vacuum-churning": {
        "task": "chain.vacuum_churning",
        "schedule": 2 * GTX_TICK_S,
        "options": {"expires": 2 * GTX_TICK_S},
    },
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

# Meters: the MQTT broker the bridge subscribes to; GTX_METERS_DEMO=1 makes
# `manage.py start` run the bridge and the demo meter simulator too.
GTX_MQTT_URL = env("GTX_MQTT_URL", default="mqtt://127.0.0.1:1883")
GTX_METERS_DEMO = env.bool("GTX_METERS_DEMO", default=False)
