"""Issue 14, findings 1 and 10: a reply whose attachment points at a loopback service (the app
itself, another local service) or a non-http scheme is refused before any connection, and GHL is
told the message failed with the reason, after one attempt (never a retry loop). Loopback only:
the victim is a local listener recording any hit."""

from __future__ import annotations

import asyncio

from bridge.conftest import Bridged, wait_for


async def test_a_loopback_or_file_attachment_fails_in_ghl_without_a_request(
    bridged: Bridged,
) -> None:
    hits: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.readline())
        writer.close()

    victim = await asyncio.start_server(record, "127.0.0.1", 0)
    port = victim.sockets[0].getsockname()[1]
    headers = {"Authorization": f"Bearer {bridged.token}"}
    phone = bridged.phone()
    await phone.deliver(**{"from": "5511955554444", "body": "oi"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    try:
        for url in (
            f"http://127.0.0.1:{port}/healthz",
            f"http://localhost:{port}/x",
            f"http://2130706433:{port}/x",
            "file:///etc/passwd",
        ):
            ghl_id, _ = await bridged.reply_from_ghl(contact_id, "see", attachments=[url])
            await wait_for(lambda i=ghl_id: bridged.fake.messages[i].get("status") == "failed")
            assert "attachment refused" in bridged.fake.messages[ghl_id]["error"]["message"]
        many = [f"http://127.0.0.1:{port}/{n}" for n in range(1000)]
        ghl_id, _ = await bridged.reply_from_ghl(contact_id, "many", attachments=many)
        await wait_for(lambda: bridged.fake.messages[ghl_id].get("status") == "failed")
        assert "at most" in bridged.fake.messages[ghl_id]["error"]["message"]
        async with bridged.app.client(headers=headers) as client:
            jobs = (await client.get("/api/jobs", params={"status": "failed"})).json()["jobs"]
        sends = [job for job in jobs if job["kind"] == "ghl_to_wa"]
        assert len(sends) == 5 and all(job["attempts"] == 1 for job in sends), sends
        assert hits == []
    finally:
        victim.close()
