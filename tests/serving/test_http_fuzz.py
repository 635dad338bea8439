"""The contract under fuzzing: schemathesis (every check, a fixed seed) against the real
service's own spec, with an admin key, a read key and no key. Zero failures, and at least
2,000 generated cases for the admin run under CI=true (fewer locally, to keep the suite fast).
It runs on the session's service after the HTTP tests of routers/ and test_http_app.py (same
fixture, so the fuzz meets stored trades, versions and outcomes, and no second service is
started; conftest.py's ON_THE_SERVICE keeps that order).

Config: tests/serving/schemathesis.toml (what each check accepts and why);
tests/serving/fuzz_hooks.py adds one check: spec-valid data is never refused by validation."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from tests.conftest import IN_CI

HERE = Path(__file__).parent
ST = Path(sys.executable).parent / "st"
EXAMPLES = {"admin": 5 if IN_CI else 3, "read": 2, None: 2}  # per operation and phase: about 2,700 cases with the admin key at 5
MIN_CASES = {"admin": 2_000 if IN_CI else 1_000, "read": 500, None: 500}
pytestmark = pytest.mark.e2e


def test_the_served_spec_is_valid_openapi(svc):
    spec = httpx.get(svc["url"] + "/docs.json", timeout=30).json()
    validate(spec)  # raises on any violation of the version it declares
    assert spec["openapi"].startswith("3.1") and spec["info"]["title"] == "TX Predictive Intelligence"
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key", "description": spec["components"]["securitySchemes"]["ApiKey"]["description"]}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            ok = next((code for code in op["responses"] if code.startswith("2")), None)
            if ok is None:  # not in this release: says so
                assert "501" in op["responses"], f"{method} {path} documents no success"
                continue
            if path == "/metrics":  # Prometheus text
                assert "text/plain" in op["responses"][ok]["content"]
                continue
            assert "$ref" in op["responses"][ok]["content"]["application/json"]["schema"], f"{method} {path} has no response model"
            if op.get("security"):
                assert {"401", "422", "429", "503"} <= set(op["responses"]), f"{method} {path} documents too few errors"
    page = httpx.get(svc["url"] + "/", timeout=30)
    assert "TX Predictive Intelligence" in page.text and "/docs.json" in page.text and "BentoML" not in page.text


# Seen once in CI (Python 3.11, under load): schemathesis' coverage phase raised this inside the
# interpreter's AST constructor while every case against the service passed.
INTERPRETER_FLAKE = "SystemError: AST constructor recursion depth mismatch"


@pytest.mark.heavy  # about 2 min a scope; CI fuzzes all three
@pytest.mark.parametrize("scope", ["admin", "read", None])
def test_schemathesis_finds_nothing(svc, scope, tmp_path):
    if svc["backend"] == "postgresql" and (scope != "admin" or not IN_CI):
        pytest.skip("on PostgreSQL the admin run (under CI) covers every operation; the keys' runs are the same on SQLite")
    command = [str(ST), "--config-file", str(HERE / "schemathesis.toml"), "run", svc["url"] + "/docs.json", "--checks", "all",
               "--max-examples", str(EXAMPLES[scope]), "--seed", "1", "--no-color", "--workers", "2", "--request-timeout", "60",
               "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml")]
    if scope:
        command += ["-H", f"X-API-Key: {svc['keys'][scope]}"]
    def fuzz() -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(HERE)})

    done = fuzz()
    if done.returncode != 0 and INTERPRETER_FLAKE in done.stdout:
        done = fuzz()  # CPython's own error inside schemathesis' generator (not the service): one more run, judged as strictly
    summary = done.stdout[-12_000:]
    assert done.returncode == 0, summary
    cases = int(re.search(r"(\d+) generated", done.stdout).group(1))
    assert cases >= MIN_CASES[scope], summary
    assert "Traceback" not in Path(svc["log"]).read_text()


def test_unserved_paths_big_bodies_and_options_answer_in_the_error_shape(svc):
    key = {"X-API-Key": svc["keys"]["read"]}
    for method, path in (("GET", "/nope"), ("POST", "/api/nope"), ("GET", "/api/ml/nope/deeper")):
        answer = httpx.request(method, svc["url"] + path, headers=key, timeout=30)
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("application/json"), answer.text
        assert answer.json()["error"]["code"] == "not_found"
    big = httpx.post(svc["url"] + "/api/ml/score", headers={**key, "Content-Type": "application/json"},
                     content=b'{"symbol": "' + b"A" * (10 * 1024 * 1024) + b'"}', timeout=60)
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    for path in ("/api/patterns/backtest", "/api/patterns/explain", "/api/patterns/validate"):
        allowed = httpx.request("OPTIONS", svc["url"] + path, headers=key, timeout=30)
        assert allowed.status_code == 405 and allowed.headers["allow"] == "POST", (path, allowed.headers)
    assert httpx.get(svc["url"] + "/metrics", timeout=30).status_code == 200  # BentoML's own routes still answer
    assert httpx.get(svc["url"] + "/static_content/swagger-ui.css", timeout=30).status_code == 200
