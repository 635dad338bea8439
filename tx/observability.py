"""Operations: one logging set-up and Sentry, shared by the service, the `tx` command and Dagster code.

Logs are stdlib `logging` records rendered by structlog's ProcessorFormatter: JSON lines
(TX_LOG_FORMAT=json, the default when stderr is not a terminal) or plain text, with the
request id of the HTTP request being served bound into every record (`REQUEST`, set by
serving/requestlog.py). Sentry is initialised only when a DSN is set; `sentry_sdk` is
imported then and only then, so without one nothing is sent and nothing is slower.
"""

import logging
import re
import subprocess
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any, TextIO

import structlog

import tx
from tx.settings import ROOT, Settings

HANDLER = "tx"  # the name of our handler on the root logger: configure_logging replaces only it
SHUTDOWN_TIMEOUT_S = 2  # at exit, wait at most this long for queued events (an unreachable Sentry must not hold a stop)
SECRET_HEADERS = {"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
API_KEY = re.compile(r"tx_[0-9a-f]{8}_[A-Za-z0-9_\-]{16,}")  # store/api_keys.py: tx_<prefix>_<secret>
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+@")


@dataclass
class RequestInfo:
    """What the logs and Sentry say about the HTTP request being served; auth fills key_id."""

    request_id: str
    method: str
    scope: dict
    key_id: int | None = None
    model_version: str | None = None

    @property
    def route(self) -> str | None:
        """The matched route's template (`/api/signals/{symbol}`), never the raw path."""
        return getattr(self.scope.get("route"), "path", None)


REQUEST: ContextVar[RequestInfo | None] = ContextVar("tx_request", default=None)
_warned: set[str] = set()


def _formatted_by_others(_logger: Any, _name: str, event: dict) -> dict:
    """Drop what another handler's Formatter left on the record (`message` repeats `event`)."""
    event.pop("message", None)
    event.pop("asctime", None)
    return event


def _our_request_id(_logger: Any, _name: str, event: dict) -> dict:
    """The request id is ours (the client's X-Request-ID, echoed): BentoML's log filter puts a
    numeric `request_id` of its own on every record, which must not replace it."""
    mine = event.pop("tx_request_id", None)
    info = REQUEST.get()
    if mine is None and info is not None:
        mine = info.request_id
    if mine is not None:
        event["request_id"] = mine
    return event


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route every stdlib log record through one handler on the root logger (idempotent)."""
    stream = stream or sys.stderr
    as_json = (settings.log_format or ("text" if stream.isatty() else "json")) == "json"
    chain = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        _our_request_id,
        _formatted_by_others,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final = ([structlog.processors.format_exc_info, structlog.processors.JSONRenderer()] if as_json
             else [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)])
    handler = logging.StreamHandler(stream)
    handler.set_name(HANDLER)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=chain, processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final]))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request at INFO: noise in `tx run`'s terminal


@cache
def release() -> str:
    """`tx-platform@<version>+<commit>`; the commit is read once, and left out without git
    (in a Bento, or a copy of the sources)."""
    commit = None
    if (ROOT / ".git").exists():
        try:
            found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                                   timeout=2, check=False)
            commit = found.stdout.strip() if found.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            pass
    return f"tx-platform@{tx.__version__}" + (f"+{commit}" if commit else "")


def scrub(value: Any) -> Any:
    """A copy without API keys, secret headers (dropped, name and value) or database
    passwords, at any depth."""
    if isinstance(value, str):
        return URL_PASSWORD.sub(r"\g<head>***@", API_KEY.sub("[api key]", value))
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not (isinstance(k, str) and k.lower() in SECRET_HEADERS)}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def before_send(event: dict, _hint: dict) -> dict:
    """Sentry's last look at an event: the request's tags added, bodies and secrets removed."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in ("data", "cookies", "env"):
            request.pop(part, None)
    info = REQUEST.get()
    if info is not None:
        tags = event.setdefault("tags", {})
        tags.update({k: str(v) for k, v in {"request_id": info.request_id, "route": info.route, "key_id": info.key_id,
                                            "model_version": info.model_version}.items() if v is not None})
    return scrub(event)


def init_sentry(settings: Settings, component: str) -> bool:
    """Report errors to Sentry when a DSN is set (True), else do nothing (False).

    component: `service` (FastAPI/Starlette integration; an unexpected error is reported
    once, by the logging integration, when serving/errors.py logs it), `cli` (unhandled
    exceptions and ERROR logs), or `dagster` (no events from logs: Dagster logs every step
    failure, and pipelines/observability.py's run-failure sensor reports each failed run once).
    """
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.fastapi import FastApiIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    # Status codes are not errors here: a 503 (no model, a store down) is an answer, not a bug.
    integrations = [LoggingIntegration(level=logging.INFO, event_level=None if component == "dagster" else logging.ERROR),
                    StarletteIntegration(transaction_style="url", failed_request_status_codes=set()),
                    FastApiIntegration(transaction_style="url", failed_request_status_codes=set())]
    sentry_sdk.init(dsn=settings.sentry_dsn, environment=settings.env, release=release(),
                    traces_sample_rate=settings.sentry_traces_sample_rate, send_default_pii=False,
                    max_request_body_size="never", include_local_variables=False,  # locals may hold a key or a password
                    shutdown_timeout=SHUTDOWN_TIMEOUT_S, before_send=before_send,
                    before_breadcrumb=lambda crumb, _hint: scrub(crumb), integrations=integrations)
    sentry_sdk.set_tag("component", component)
    return True


def sentry_active() -> bool:
    """Whether events are being sent (without importing sentry_sdk when nothing did)."""
    sdk = sys.modules.get("sentry_sdk")
    return sdk is not None and sdk.get_client().is_active()


def report_failure(message: str, tags: dict[str, str], details: dict[str, Any], fingerprint: list[str]) -> str | None:
    """One Sentry error event for a failure that is not an exception in this process (a
    failed Dagster run); returns its event id, None when Sentry is off."""
    if not sentry_active():
        return None
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        for key, value in tags.items():
            scope.set_tag(key, value)
        scope.set_context("failure", details)
        scope.fingerprint = fingerprint
        return sentry_sdk.capture_message(message, level="error")


def setup(component: str, settings: Settings) -> Settings:
    """What each process does once at start: logging, the configuration's warnings (once per
    process), and Sentry when a DSN is set."""
    configure_logging(settings)
    log = logging.getLogger("tx")
    for notice in settings.notices:
        if notice not in _warned:
            _warned.add(notice)
            log.warning(notice)
    init_sentry(settings, component)
    return settings
