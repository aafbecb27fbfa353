"""Inbound as wa-js 4.6.0 really fires it (issue 12; audit findings 1 and 11): a message that
arrives encrypted first reaches GHL once, with its text; one that never decrypts becomes one
clear note; notification and system messages post nothing and show in the journey as
ignored. The app over HTTP, the fixture page
in real Chromium, the fake GHL, a real SQLite file."""

from __future__ import annotations

import asyncio
import uuid

from bridge.conftest import Bridged, wait_for


async def test_an_encrypted_first_message_reaches_ghl_once_with_its_text(bridged: Bridged) -> None:
    await bridged.phone().deliver(
        **{"from": "5511912345678", "body": "pedido 42", "encrypted": True, "decrypt_after_ms": 400}
    )
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    await asyncio.sleep(1.0)  # nothing else follows
    assert [m["message"] for m in bridged.inbound_calls()] == ["pedido 42"]


async def test_a_message_that_never_decrypts_is_one_clear_note(bridged: Bridged) -> None:
    engine_page = bridged.phone().page
    await engine_page.evaluate("window.__waBridgeCiphertextWaitMs = 500")
    await bridged.phone().deliver(
        **{"from": "5511912345678", "body": "x", "encrypted": True, "decrypt_after_ms": None}
    )
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    await asyncio.sleep(1.0)
    [posted] = bridged.inbound_calls()
    assert posted["message"] == "[A message that WhatsApp could not decrypt: open it on the phone]"


async def test_notification_and_system_messages_post_nothing(bridged: Bridged) -> None:
    phone = bridged.phone()
    await phone.deliver(
        **{
            "group": "120363000000000001@g.us",
            "from": "5511912345678",
            "type": "gp2",
            "notification": True,
            "subject": "Equipe",
        }
    )
    await phone.deliver(
        **{"from": "5511912345678", "type": "e2e_notification", "notification": True}
    )
    await phone.deliver(**{"from": "5511912345678", "type": "call_log"})
    await phone.deliver(**{"from": "5511912345678", "body": "depois"})
    await wait_for(lambda: len(bridged.inbound_calls()) >= 1)
    await asyncio.sleep(1.0)
    assert [m["message"] for m in bridged.inbound_calls()] == ["depois"]
    # The number's journey shows them as ignored, with their type (groups are off here: the
    # group's change is dropped before it reaches the number's store).
    async with bridged.app.client() as client:
        journey = await client.get(
            f"/api/instances/{bridged.instance_id}/messages",
            headers={"Authorization": f"Bearer {bridged.token}"},
        )
    kinds = sorted(m["media_type"] for m in journey.json()["messages"] if m["status"] == "ignored")
    assert kinds == ["call_log", "e2e_notification"]


async def test_an_image_received_before_a_restart_is_downloaded_after_it(bridged: Bridged) -> None:
    # GHL is down while the image arrives, so its sync waits; then the process "restarts": the
    # engine's in-memory map of short ids to whole keys is gone (it lives in the Python
    # process). wa-js's downloadMedia finds a message only by its whole key (audit finding 6).
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    bridged.fake.inject("/contacts/", status=500)
    await bridged.phone().deliver(**{"from": "5511933332222", "media": (png, "image/png", "p.png")})
    await asyncio.sleep(1.5)
    engine = bridged.services.sessions.engine_for(uuid.UUID(bridged.instance_id))
    engine._memory.media.clear()
    bridged.fake.clear_faults()
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    assert len(bridged.fake.uploads) == 1 and bridged.fake.uploads[0]["data"] == png


async def test_a_lid_chats_messages_held_for_want_of_a_phone_go_once_it_is_known(
    bridged: Bridged,
) -> None:
    """WhatsApp gives a LID chat's phone only later, often (WAHA #1816: 85 of 96): what came
    before could not be matched to a GHL contact; once the phone is known it goes, in order."""
    from ghl_app.models import Job, JobStatus

    phone = bridged.phone()
    lid = "2769541341277@lid"
    await phone.deliver(**{"lid": lid, "body": "sem telefone"})

    async def parked() -> bool:
        return await Job.filter(kind="wa_to_ghl", status=JobStatus.FAILED).exists()

    await wait_for(parked, timeout=30)
    assert bridged.inbound_calls() == []
    await phone.deliver(**{"lid": lid, "sender_phone": "5521977770077", "body": "agora com"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 2, timeout=60)
    posted = bridged.inbound_calls()
    assert [m["message"] for m in posted] == ["sem telefone", "agora com"]
    assert posted[0]["contactId"] == posted[1]["contactId"]
    assert bridged.fake.contacts[posted[0]["contactId"]]["phone"] == "+5521977770077"
