"""The shared set-up of every process: log format and level, configuration notices once,
the release Sentry reports, scrubbing, and a malformed DSN as one `tx: error:` line."""

import io
import json
import logging

import pytest

import tx
from cli.main import main as tx_main
from tx import observability
from tx.settings import load_settings


@pytest.fixture(autouse=True)
def root_logger_restored():
    """The root logger as it was: no test leaves its handler on a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_by_default_off_a_terminal_and_text_on_request(monkeypatch):
    buffer = io.StringIO()
    observability.configure_logging(load_settings(), buffer)
    observability.configure_logging(load_settings(), buffer)  # idempotent: still one handler
    logging.getLogger("tx.test").info("hello %s", "world", extra={"symbol": "AAPL"})
    logging.getLogger("tx.test").debug("below the level")
    (line,) = [json.loads(x) for x in buffer.getvalue().splitlines()]
    assert line["event"] == "hello world" and line["symbol"] == "AAPL" and line["level"] == "info" and line["logger"] == "tx.test"
    monkeypatch.setenv("TX_LOG_FORMAT", "text")
    monkeypatch.setenv("TX_LOG_LEVEL", "WARNING")
    buffer = io.StringIO()
    observability.configure_logging(load_settings(), buffer)
    logging.getLogger("tx.test").info("quiet")
    logging.getLogger("tx.test").warning("loud")
    assert "loud" in buffer.getvalue() and "quiet" not in buffer.getvalue() and not buffer.getvalue().startswith("{")


def test_notices_are_logged_once_per_process(monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", "s3cret-value")
    monkeypatch.setenv("TX_LOG_FORMAT", "json")
    observability._warned.clear()
    observability.setup("cli", load_settings())
    observability.setup("cli", load_settings())
    err = capsys.readouterr().err
    (line,) = [json.loads(x) for x in err.splitlines()]
    assert line["event"].startswith("SECRET_KEY is set, but TX has no use for it") and "message" not in line
    assert "s3cret-value" not in err


def test_release_is_the_version_and_the_commit():
    release = observability.release()
    assert release.startswith(f"tx-platform@{tx.__version__}")
    commit = release.partition("+")[2]
    assert commit == "" or (len(commit) == 12 and int(commit, 16) >= 0)


def test_scrub_removes_keys_passwords_and_secret_headers():
    event = {"request": {"headers": {"X-API-Key": "tx_0123abcd_" + "k" * 43, "Accept": "*/*", "authorization": "Bearer x"}},
             "message": "postgresql://tx:hunter2@db:5432/tx failed for tx_0123abcd_" + "s" * 43,
             "extra": [{"url": "postgresql+psycopg://u:p%40ss@h/db"}]}
    clean = observability.scrub(event)
    assert clean["request"]["headers"] == {"Accept": "*/*"}
    assert clean["message"] == "postgresql://tx:***@db:5432/tx failed for [api key]"
    assert clean["extra"][0]["url"] == "postgresql+psycopg://u:***@h/db"


def test_a_malformed_dsn_is_one_error_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("SENTRY_DSN", "not a dsn")
    assert tx_main(["config"]) == 2
    assert capsys.readouterr().err == "tx: error: SENTRY_DSN: not a Sentry DSN (Unsupported scheme ''); expected https://<public key>@<host>/<project id>\n"


def test_the_request_id_in_a_log_line_is_ours_not_bentoml_s():
    """Under `bentoml serve`, BentoML's log filter puts a numeric `request_id` of its own on
    every record: the line still carries the client's X-Request-ID (seen live: it did not)."""
    buffer = io.StringIO()
    observability.configure_logging(load_settings(), buffer)

    class BentoLike(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.request_id = 16919648469051847704
            return True

    logger = logging.getLogger("tx.test.bento")
    logger.addFilter(BentoLike())
    token = observability.REQUEST.set(observability.RequestInfo("client-42", "GET", {}))
    try:
        logger.error("inside the request")
    finally:
        observability.REQUEST.reset(token)
    logger.info("the access line", extra={"tx_request_id": "client-42"})
    lines = [json.loads(x) for x in buffer.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["client-42", "client-42"]
