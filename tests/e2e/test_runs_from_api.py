"""Runs started through the API on a real server: the request's own transaction must not
hold the database while the run writes (on SQLite it held the write lock, and every run
started from the API waited out the busy timeout and answered 503)."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import LiveTill


def test_analytics_and_basket_runs_start_from_the_api(live_till: LiveTill) -> None:
    headers = live_till.world.staff("analyst")
    with httpx.Client(base_url=live_till.base_url, timeout=50) as client:
        scored = client.post("/api/v1/insights/runs", json={}, headers=headers)
        assert scored.status_code == 201, scored.text
        assert scored.json()["status"] in ("done", "failed")
        body = {"level": "product", "min_support": 0.2, "min_confidence": 0.5, "min_lift": 0}
        mined = client.post("/api/v1/baskets/runs", json=body, headers=headers)
        assert mined.status_code == 201, mined.text
        assert mined.json()["status"] == "done"
