"""`/metrics` moves with a message through the bridge; only a scraper with the token reads it."""

from __future__ import annotations

import logging

from bridge.conftest import METRICS_TOKEN, Bridged, wait_for
from prometheus_client.parser import text_string_to_metric_families

from ghl_app.logs import JsonFormatter


async def _scrape(bridged: Bridged, token: str | None = METRICS_TOKEN) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with bridged.app.client() as client:
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}"] = sample.value
    return values


async def test_metrics_move_with_an_inbound_message_and_a_reply(bridged: Bridged) -> None:
    before = await _scrape(bridged)
    assert before["ghl_whatsapp_instances{status=connected}"] == 1
    assert before["ghl_whatsapp_engines_running{}"] == 1
    memory = before[f"ghl_whatsapp_engine_memory_bytes{{instance_id={bridged.instance_id}}}"]
    assert memory > 10 * 2**20  # a running Chromium is tens of MB at least

    phone = bridged.phone()
    await phone.deliver(**{"from": "5511912345678", "body": "metrics please"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    await bridged.reply_from_ghl(contact_id, "here they are")

    async def counted() -> bool:
        now = await _scrape(bridged)
        return now.get("ghl_whatsapp_messages_total{direction=outbound,result=ok}", 0) == 1

    await wait_for(counted)
    after = await _scrape(bridged)
    assert after["ghl_whatsapp_messages_total{direction=inbound,result=ok}"] == 1
    assert after["ghl_whatsapp_jobs_total{kind=wa_to_ghl,outcome=done}"] == 1
    # Contact lookup, conversation, inbound post: each a 2xx answer counted.
    assert (
        after["ghl_whatsapp_ghl_requests_total{status=2xx}"]
        >= before.get("ghl_whatsapp_ghl_requests_total{status=2xx}", 0) + 3
    )
    assert after["ghl_whatsapp_ghl_ratelimit_remaining{window=burst}"] > 0
    assert not any(k.startswith("ghl_whatsapp_jobs_queued{kind=wa_to_ghl") for k in after)


async def test_metrics_need_the_token(bridged: Bridged) -> None:
    async with bridged.app.client() as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        odd = await client.get("/metrics", headers={"Authorization": "Bearer ñ".encode()})
    assert (missing.status_code, wrong.status_code, odd.status_code) == (401, 401, 401)
    assert missing.json()["error"]["code"] == "unauthorized"


def test_json_log_lines_carry_the_context_fields() -> None:
    record = logging.LogRecord("ghl_app.x", logging.INFO, __file__, 1, "synced %s", ("ok",), None)
    record.instance_id = "i-1"
    record.location_id = "loc-1"
    import json

    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "synced ok"
    assert (line["level"], line["instance_id"], line["location_id"]) == ("INFO", "i-1", "loc-1")
    assert line["ts"].endswith("+00:00")
