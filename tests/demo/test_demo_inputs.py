"""The demo's own endpoints answer bad input with a clear 4xx `{"error": {code, message}}`,
over real HTTP on the demo's one port (the app, the fake GHL and the phone together)."""

from __future__ import annotations

from pathlib import Path

from ghl_app.db import apply_migrations
from ghl_app.demo.server import DemoKeys, build_demo_app, demo_settings
from support.app_server import free_port, run_app


async def test_bad_phone_and_conversation_input_is_a_clear_4xx(tmp_path: Path) -> None:
    port = free_port()
    keys = DemoKeys.generate()
    settings = demo_settings(tmp_path, port, keys)
    await apply_migrations(settings.database_url)
    demo_app = build_demo_app(settings, keys, announce=False)
    async with run_app(demo_app, port=port) as running, running.client() as client:
        answers = {
            "scan unknown device": await client.post(
                "/demo/phone/scan", json={"device": "nope", "phone": "+5511900000001"}
            ),
            "send without text": await client.post(
                "/demo/phone/send", json={"to": "5511900000001", "from": "+5511988887777"}
            ),
            "send to no linked number": await client.post(
                "/demo/phone/send",
                json={"to": "5511900000001", "from": "+5511988887777", "text": "hi"},
            ),
            "report not json": await client.post("/demo/wa/report", content=b"{"),
            "reply to unknown conversation": await client.post(
                "/demo/ghl/api/conversations/conv-x/messages", json={"text": "hi"}
            ),
        }
        frame = await client.get("/demo/")
        phone = await client.get("/demo/phone")
    expected = {
        "scan unknown device": (404, "no_device"),
        "send without text": (400, "bad_message"),
        "send to no linked number": (404, "no_number"),
        "report not json": (400, "bad_report"),
        "reply to unknown conversation": (404, "not_found"),
    }
    for name, (status, code) in expected.items():
        answer = answers[name]
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), name
        assert answer.json()["error"]["message"], name
    assert frame.status_code == 200 and "DEMO" in frame.text
    assert phone.status_code == 200 and "DEMO" in phone.text
