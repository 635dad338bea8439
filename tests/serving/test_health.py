from fastapi.testclient import TestClient

from serving.app import create_app


def test_health_is_fast_and_touches_nothing():
    answer = TestClient(create_app()).get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["uptime_s"] >= 0
