"""The service as a whole over HTTP, across routers: keys, scopes, rate limits and CORS; the
spec, docs and metrics; every path of docs/API.md served; junk on every path a 4xx."""

import re
from pathlib import Path

import httpx
import pytest

from tests.serving.client import call

pytestmark = pytest.mark.e2e


def test_keys_scopes_and_rate_limits(svc):
    missing = call(svc, "GET", "/api/ml/models", key=None)
    assert missing.status_code == 401 and "tx api-key create --scope read" in missing.json()["error"]["message"]
    wrong = httpx.get(svc["url"] + "/api/ml/models", headers={"X-API-Key": "tx_dead_beef"}, timeout=30)
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "unknown or revoked API key"
    assert call(svc, "POST", "/api/ml/promote", json={"version": "1"}).status_code == 403  # read key
    assert call(svc, "POST", "/api/ml/promote", key="trade", json={"version": "1"}).status_code == 403
    codes = [call(svc, "GET", "/api/ml/active-version", key="limited").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = call(svc, "GET", "/api/ml/active-version", key="limited")
    assert int(limited.headers["Retry-After"]) >= 1 and "rate limit of 3" in limited.json()["error"]["message"]
    cors = httpx.options(svc["url"] + "/api/ml/models", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"})
    assert cors.headers.get("access-control-allow-origin") == "http://localhost:5173"
    evil = httpx.options(svc["url"] + "/api/ml/models", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in evil.headers


def test_docs_openapi_and_metrics(svc):
    spec = httpx.get(svc["url"] + "/swagger.json", timeout=30).json()
    assert {"/api/ml/score", "/api/market-scan", "/api/stats/system"} <= set(spec["paths"])
    assert spec == httpx.get(svc["url"] + "/docs.json", timeout=30).json()  # one spec, two names
    assert httpx.get(svc["url"] + "/healthz", timeout=30).status_code == 200  # BentoML's probes answer beside the contract
    docs = httpx.get(svc["url"] + "/docs", timeout=30, follow_redirects=True)
    assert docs.status_code == 200 and "swagger" in docs.text.lower() and "TX Predictive Intelligence" in docs.text
    assert call(svc, "POST", "/api/ml/score", json={"symbol": "SYNA"}).status_code == 200
    metrics = httpx.get(svc["url"] + "/metrics", timeout=30).text
    assert 'tx_predictions_total{endpoint="score",model_version=' in metrics
    assert re.search(r'tx_model_version\{line="champion",pid="\d+"\} [12]\.0', metrics) and "tx_prediction_seconds_bucket" in metrics
    assert "bentoml_service_request" in metrics  # BentoML's own request metrics beside ours


LATER: tuple[str, ...] = ()  # groups of the contract still to be built (none)


def contract() -> list[tuple[str, str, str]]:
    """(group, method, path) of every row of docs/API.md, the contract existing clients call."""
    rows, group = [], ""
    for line in (Path(__file__).parents[2] / "docs" / "API.md").read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not re.match(r"(GET|POST|WebSocket) ", cells[2]):
            continue
        group = cells[1] or group
        method = cells[2].split()[0]
        rows += [(group, method, p) for p in re.findall(r"`([^`]+)`", cells[2])]
    return rows


def test_every_contract_path_is_served(svc):
    spec = httpx.get(svc["url"] + "/swagger.json", timeout=30).json()["paths"]
    def shape(path: str) -> str:  # parameter names are ours to choose: /api/alerts/{id} == /api/alerts/{alert_id}
        return re.sub(r"\{[^}]+\}", "{}", path)

    served = {(m.upper(), shape(p)) for p, ops in spec.items() for m in ops}
    paths = contract()
    assert len(paths) > 70
    missing = [(g, m, p) for g, m, p in paths if g not in (*LATER, "docs", "live") and (m, shape(p)) not in served]
    assert missing == []
    for _, _, path in (row for row in paths if row[0] == "docs"):  # the docs themselves stay out of the spec
        assert httpx.get(svc["url"] + path, timeout=30, follow_redirects=True).status_code == 200


EXPECTED_5XX = {"/api/ml/rl-action": 503, "/api/ml/train": 503, "/api/ml/online-update": 503}  # no tx-rl champion / no Dagster webserver here


def test_bad_input_on_every_contract_path_is_a_4xx(svc):
    """Junk query parameters, junk bodies and malformed JSON on every served path: never a 5xx."""
    junk_query = {"limit": "-1", "timeframe": "zz", "start": "yesterday", "horizon": "0", "symbol": "!!", "days": "x", "period": "?"}
    seen = 0
    for group, method, path in contract():
        if group in (*LATER, "docs", "live") or path == "/metrics":
            continue
        url = svc["url"] + path.replace("{symbol}", "N0PE").replace("{id}", "999999")
        headers = {"X-API-Key": svc["keys"]["admin"]}
        tries = ([httpx.get(url, params=junk_query, headers=headers, timeout=60)] if method == "GET" else
                 [httpx.post(url, json={"junk": [1, 2]}, headers=headers, timeout=60),
                  httpx.post(url, json={"symbol": "SYNA", "timeframe": "1d", "candles": [{"open": "x"}]}, headers=headers, timeout=60),
                  httpx.post(url, content=b"{nope", headers={**headers, "Content-Type": "application/json"}, timeout=60)])
        for answer in tries:
            seen += 1
            assert answer.status_code < 500 or answer.status_code == EXPECTED_5XX.get(path), (method, path, answer.status_code, answer.text)
            assert "Traceback" not in answer.text and "error" in answer.json() or answer.status_code < 300, (path, answer.text)
    assert seen > 60
