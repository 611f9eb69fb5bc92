"""Settings shared by every place Parley runs.

Everything that differs between places is read from the environment; the
`dev`, `test` and `prod` modules only change defaults.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("PARLEY_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (got {value!r})")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = env("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_q",
    "csp",
    "conversations",
    "flows",
    "segments",
    "campaigns",
    "commerce",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",  # the Content-Security-Policy header: CONTENT_SECURITY_POLICY below
    # NUL, lone surrogates and absurdly nested JSON answer 400 here, before any view or the database sees them.
    "conversations.middleware.RefuseUnreadableInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# DATABASE_URL selects the database; without it Parley uses an SQLite file in
# var/ in WAL mode, so that the web server and the worker can share it.
SQLITE_PATH = VAR_DIR / "parley.sqlite3"
DATABASE_URL = env("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}"
# Connections are kept between requests (CONN_MAX_AGE seconds) and checked before reuse.
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(env("CONN_MAX_AGE", "60")), conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers go on while one writer writes; IMMEDIATE takes the
        # write lock at BEGIN so concurrent writers wait instead of failing.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "admin:login"

# --- Content-Security-Policy (django-csp) ------------------------------------------------------------------
# Every page Parley serves may run, style and load only what comes from Parley itself: no inline <script> or
# <style>, no style="" or onclick="" attributes, no eval (htmx's is switched off), nothing from other sites.
# The same policy in dev, test and prod. A store adds sources with CSP_<DIRECTIVE> variables (comma-separated),
# e.g. an analytics script on the hosted sign-up page: CSP_SCRIPT_SRC=https://plausible.io and
# CSP_CONNECT_SRC=https://plausible.io. Views that need another policy say so with django-csp's decorators
# (the sign-up preview may be framed by Parley's own admin).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
for _directive in ("script-src", "style-src", "img-src", "connect-src", "font-src", "frame-src"):
    CONTENT_SECURITY_POLICY["DIRECTIVES"][_directive] += env_list("CSP_" + _directive.upper().replace("-", "_"))

# --- The store ------------------------------------------------------------------
# One Parley installation serves one store (brand). Phone numbers typed without a
# country code are read in PARLEY_DEFAULT_REGION; numbers whose time zone cannot
# be told from the number use PARLEY_DEFAULT_TIME_ZONE.
PARLEY_STORE_NAME = env("PARLEY_STORE_NAME", "Acme Outfitters")
PARLEY_DEFAULT_REGION = env("PARLEY_DEFAULT_REGION", "US").upper()
PARLEY_DEFAULT_TIME_ZONE = env("PARLEY_DEFAULT_TIME_ZONE", "America/New_York")

# --- SMS --------------------------------------------------------------------------
SMS_PROVIDER = env("SMS_PROVIDER", "console")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", "")
# During an Auth Token rotation webhooks signed with the previous token are still accepted.
TWILIO_AUTH_TOKEN_PREVIOUS = env("TWILIO_AUTH_TOKEN_PREVIOUS", "")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = env("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", "https://api.twilio.com")
TWILIO_TIMEOUT_SECONDS = float(env("TWILIO_TIMEOUT_SECONDS", "10"))
# Signed webhooks must hold only parameters Twilio documents (conversations/sms/twilio_params.py); should Twilio
# add one, name it here (comma-separated) until Parley knows it. An unknown parameter is refused with a 400.
TWILIO_EXTRA_WEBHOOK_PARAMETERS = env_list("TWILIO_EXTRA_WEBHOOK_PARAMETERS", "")
# The public URL Twilio calls (scheme and host, no trailing slash), for webhook signatures behind a proxy.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "")

# --- Inbox and help desk ------------------------------------------------------------
# Other apps' additions to the inbox: names of automated texts, and rows beside the thread.
INBOX_MESSAGE_LABELS = ["flows.selectors.message_labels", "campaigns.selectors.message_labels"]
INBOX_PANELS = ["flows.selectors.inbox_panel"]
# Closing a conversation resumes the flow runs it paused (true) or ends them (false).
INBOX_CLOSE_RESUMES_FLOWS = env_bool("INBOX_CLOSE_RESUMES_FLOWS", True)
# The store's help desk: conversation.opened and message.inbound are POSTed here, signed with the secret.
HELPDESK_WEBHOOK_URL = env("HELPDESK_WEBHOOK_URL", "")
HELPDESK_WEBHOOK_SECRET = env("HELPDESK_WEBHOOK_SECRET", "")
HELPDESK_TIMEOUT_SECONDS = float(env("HELPDESK_TIMEOUT_SECONDS", "10"))

# The store's sending number (replies go from the number the shopper texted).
SMS_SENDER = env("SMS_SENDER", TWILIO_FROM_NUMBER or "+18885550000")
# Segments per second per sender number: 1 for a long code, 100 for a short code.
SMS_SENDER_MPS = float(env("SMS_SENDER_MPS", "1"))
# Marketing send window in the recipient's local time; may be narrowed, never widened past 09:00-20:00.
SMS_WINDOW_START = env("SMS_WINDOW_START", "09:00")
SMS_WINDOW_END = env("SMS_WINDOW_END", "20:00")
SMS_DAILY_MARKETING_CAP = int(env("SMS_DAILY_MARKETING_CAP", "3"))
SMS_WEEKLY_MARKETING_CAP = int(env("SMS_WEEKLY_MARKETING_CAP")) if env("SMS_WEEKLY_MARKETING_CAP") else None
# Keywords that sign a new number up at once (the shopper started the conversation).
SMS_SIGNUP_KEYWORDS = env_list("SMS_SIGNUP_KEYWORDS", "JOIN")
# Replace curly quotes, dashes, ellipses… with GSM-7 look-alikes before counting and sending (Twilio's list).
SMS_SMART_ENCODING = env_bool("SMS_SMART_ENCODING", False)
SMS_HELP_CONTACT = env("SMS_HELP_CONTACT", "help@acme.example or 1-800-555-0100")
SMS_MESSAGES_PER_MONTH = int(env("SMS_MESSAGES_PER_MONTH", "6"))
# Compliance texts (CTIA Messaging Principles 5.1). {store}, {contact} and {per_month} are filled in.
SMS_OPT_IN_CONFIRMATION = env(
    "SMS_OPT_IN_CONFIRMATION",
    "{store}: You're in! Up to {per_month} autodialed marketing msgs/mo. Msg & data rates may apply. "
    "Consent not required to buy. Reply HELP for help, STOP to cancel.",
)
# The double opt-in request a web sign-up gets (compliance.md, section 2); their Y subscribes them.
SMS_DOUBLE_OPT_IN_REQUEST = env(
    "SMS_DOUBLE_OPT_IN_REQUEST",
    "{store}: Reply Y to confirm you want recurring marketing texts from {store}. Msg & data rates may apply.",
)
# Web sign-ups: at most this many tries from one IP address in SIGNUP_LIMIT_MINUTES, and confirmation texts to
# one number in an hour.
SIGNUP_LIMIT_PER_IP = int(env("SIGNUP_LIMIT_PER_IP", "10"))
SIGNUP_LIMIT_MINUTES = int(env("SIGNUP_LIMIT_MINUTES", "10"))
SIGNUP_LIMIT_PER_PHONE = int(env("SIGNUP_LIMIT_PER_PHONE", "3"))
# Behind a load balancer that appends the client's address to X-Forwarded-For, count limits by that address.
SIGNUP_TRUST_X_FORWARDED_FOR = env_bool("SIGNUP_TRUST_X_FORWARDED_FOR", False)
# Browse tracking by the pop-up's script: the signed identifier a sign-up or a tracked link gives the shopper's
# browser is honoured this many days; views of the same product (or collection) by the same shopper within
# BROWSE_REPEAT_MINUTES count once.
BROWSE_IDENTITY_DAYS = int(env("BROWSE_IDENTITY_DAYS", "30"))
BROWSE_REPEAT_MINUTES = int(env("BROWSE_REPEAT_MINUTES", "30"))
# A shopper whose last product view is this old, with no checkout or order since, gets one `browse_abandoned`.
BROWSE_ABANDONED_MINUTES = int(env("BROWSE_ABANDONED_MINUTES", "120"))
# A shopper's request to be told when a product is back in stock waits this many days, then expires.
BACK_IN_STOCK_DAYS = int(env("BACK_IN_STOCK_DAYS", "90"))
SMS_HELP_TEXT = env(
    "SMS_HELP_TEXT",
    "{store} alerts: up to {per_month} msgs/mo. Help: {contact}. Msg & data rates may apply. Reply STOP to cancel.",
)
SMS_OPT_OUT_CONFIRMATION = env(
    "SMS_OPT_OUT_CONFIRMATION",
    "{store}: You are unsubscribed and will get no more texts from us. Reply START to resubscribe.",
)
# The outbox worker: how many messages one claim takes at most, how often a failed send is tried.
SMS_SEND_BATCH = int(env("SMS_SEND_BATCH", "100"))
SMS_MAX_ATTEMPTS = int(env("SMS_MAX_ATTEMPTS", "4"))
# Enqueue a django-q2 sender task after a text is queued (at most once a second per process).
SMS_KICK_WORKER = env_bool("SMS_KICK_WORKER", True)
# The inbound chain after the compliance keywords: dotted paths of `handle(inbound) -> bool`, first taker wins.
INBOUND_HANDLERS = [
    "conversations.signup.services.signup_confirm",  # Y (or YES) to a web sign-up's double opt-in request
    "conversations.inbox.services.inbound_to_open_conversation",  # a person is talking with them: automation waits
    "flows.handlers.inbound",
    "conversations.inbox.services.inbound_open_conversation",  # nothing took the text: a person will
]
# Timed work that `manage.py process_due` and the every-minute worker task run, in this order.
DUE_WORK = [
    "conversations.services.inbound_process_pending",
    "commerce.services.checkouts_abandon_due",  # before the flows and the outbox: the cart text goes in this pass
    "commerce.services.browse_abandon_due",
    "commerce.services.back_in_stock_expire_due",
    "flows.services.runs_process_due",
    "flows.services.launches_process_due",
    "flows.services.runs_pause_check",
    "campaigns.fanout.campaigns_fanout_due",
    "conversations.outbox.outbox_send_due",
    "conversations.helpdesk.services.helpdesk_deliver_due",
    "commerce.services.webhook_bodies_expire",
    "commerce.services.consent_pushes_due",
]
# What `seed_demo` loads besides subscribers: the shipped flow templates.
DEMO_LOADERS = [
    "conversations.demo.world_shoppers_load",
    "conversations.signup.demo.signup_form_load",
    "commerce.demo.demo_catalog_load",  # before flows and campaigns, which may name its products
    "flows.services.flow_templates_load",
    "segments.services.demo_segments_load",
    "campaigns.services.demo_campaigns_load",
]

# --- Campaigns ------------------------------------------------------------------------------------
# Short links in campaign texts are <SHORT_LINK_BASE_URL>/l/<code>: the store's own (short) domain pointed at Parley.
SHORT_LINK_BASE_URL = env("SHORT_LINK_BASE_URL", PUBLIC_BASE_URL or "http://127.0.0.1:8000")
# What one segment costs, for the estimate on the compose page.
SMS_PRICE_PER_SEGMENT = env("SMS_PRICE_PER_SEGMENT", "0.0079")
PARLEY_STORE_CURRENCY = env("PARLEY_STORE_CURRENCY", "USD")
# An order is credited to a campaign clicked within this many days, else to one received within this many.
CAMPAIGN_ATTRIBUTION_CLICK_DAYS = int(env("CAMPAIGN_ATTRIBUTION_CLICK_DAYS", "5"))
CAMPAIGN_ATTRIBUTION_RECEIVED_DAYS = int(env("CAMPAIGN_ATTRIBUTION_RECEIVED_DAYS", "1"))
# Different links one campaign text may hold (compliance.md, section 7: one by default).
CAMPAIGN_MAX_LINKS = int(env("CAMPAIGN_MAX_LINKS", "1"))
# The fan-out writes recipients and texts in chunks of this many subscriber ids (the first chunk is smaller).
CAMPAIGN_FANOUT_FIRST_CHUNK = int(env("CAMPAIGN_FANOUT_FIRST_CHUNK", "1000"))
CAMPAIGN_FANOUT_CHUNK = int(env("CAMPAIGN_FANOUT_CHUNK", "50000"))

# --- The store's platform (commerce) -------------------------------------------------------------------
# Shopify: the app's client secret signs every webhook (X-Shopify-Hmac-Sha256). During a rotation the previous
# secret is accepted too. With SHOPIFY_SHOP_DOMAIN set (acme.myshopify.com), deliveries from another shop are refused.
SHOPIFY_WEBHOOK_SECRET = env("SHOPIFY_WEBHOOK_SECRET", "")
SHOPIFY_WEBHOOK_SECRET_PREVIOUS = env("SHOPIFY_WEBHOOK_SECRET_PREVIOUS", "")
SHOPIFY_SHOP_DOMAIN = env("SHOPIFY_SHOP_DOMAIN", "")
# WooCommerce: the secret given to every webhook (X-WC-Webhook-Signature), and the previous one during a rotation.
WOOCOMMERCE_WEBHOOK_SECRET = env("WOOCOMMERCE_WEBHOOK_SECRET", "")
WOOCOMMERCE_WEBHOOK_SECRET_PREVIOUS = env("WOOCOMMERCE_WEBHOOK_SECRET_PREVIOUS", "")
# Webhook bodies hold shoppers' names, numbers and addresses: kept this many days for the delivery log, then cleared.
COMMERCE_WEBHOOK_BODY_DAYS = int(env("COMMERCE_WEBHOOK_BODY_DAYS", "7"))
# The storefront's address (https://shop.example.com), for product links; Shopify's default is SHOPIFY_SHOP_DOMAIN.
COMMERCE_STORE_URL = env("COMMERCE_STORE_URL", "")
# The way back to Shopify: with an Admin API access token (scope write_customers), an opt-out in Parley (STOP, an
# agent, the API, the carrier) unsubscribes the linked Shopify customer from SMS marketing too, sent by the worker
# and retried; empty: Shopify is not told. The Admin API is https://<SHOPIFY_SHOP_DOMAIN>/admin/api/<version>/
# graphql.json unless SHOPIFY_ADMIN_API_URL names another address (tests point it at a fake).
SHOPIFY_ADMIN_API_TOKEN = env("SHOPIFY_ADMIN_API_TOKEN", "")
SHOPIFY_ADMIN_API_VERSION = env("SHOPIFY_ADMIN_API_VERSION", "2026-10")
SHOPIFY_ADMIN_API_URL = env("SHOPIFY_ADMIN_API_URL", "")
SHOPIFY_ADMIN_TIMEOUT_SECONDS = float(env("SHOPIFY_ADMIN_TIMEOUT_SECONDS", "10"))
# A Shopify checkout with a phone that no order completes this many minutes after the shopper last changed it
# becomes one cart_abandoned event (Shopify sends no event of its own when a shopper walks away).
CHECKOUT_ABANDONED_MINUTES = int(env("CHECKOUT_ABANDONED_MINUTES", "30"))

# --- API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # `Authorization: Token <key>`, checked against hashed API tokens (conversations.ApiToken)
        "conversations.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["conversations.permissions.ModelPermissions"],
    # The API speaks JSON only (the Twilio webhooks are plain Django views and take Twilio's forms).
    "DEFAULT_PARSER_CLASSES": ["conversations.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "conversations.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "SMS conversational commerce: subscribers, zero-party attributes, messages and events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several fields are named status or purpose with different choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "SubscriberStatusEnum": "conversations.models.Subscriber.Status",
        "NewSubscriberStatusEnum": ["pending", "subscribed"],
        "SubscriberStatusChangeEnum": ["unsubscribed"],
        "MessageStatusEnum": "conversations.models.Message.Status",
        "MessagePurposeEnum": "conversations.models.Message.Purpose",
        "SendPurposeEnum": ["marketing", "conversational"],
    },
    # The tokenAuth security scheme is described by conversations.authentication.ApiTokenScheme.
}

# --- Background work (django-q2) -----------------------------------------------------
# The ORM broker keeps `make run` free of extra services; set Q_REDIS_URL to use
# Redis as the broker at scale.
Q_CLUSTER = {
    "name": "parley",
    "workers": int(env("Q_WORKERS", "2")),
    "timeout": 60,
    "retry": 120,
    "queue_limit": 50,
    "bulk": 10,
    "orm": "default",
    "catch_up": False,
}
if env("Q_REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = env("Q_REDIS_URL")

# No phone number, e-mail address, message body or query string in any log line, at any level: every handler
# runs config.logging.RedactPersonalData (tracebacks and runserver's access log included). Django's own
# handlers are replaced: the `django` loggers write through ours, and nothing is mailed to ADMINS (its report
# would hold the request's POST data).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "config.logging.RedactPersonalData"}},
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},  # the SQL log, values and all, is never on
    },
}
