"""A LID chat and the phone's own chat become one local chat once WhatsApp tells the LID's
phone (issue 12; WAHA #1816: most LIDs' phones come later; wa-js getPnLidEntry.ts)."""

from __future__ import annotations

from bridge.conftest import LOCATION, Bridged, wait_for

from ghl_app.bridge.lid_merge import merge_onto_phone
from ghl_app.models import Contact, Job, JobStatus, Location, Message

ANA = "5521977770088"
ANA_LID = "2769541341288@lid"


async def test_a_lid_chat_whose_phone_comes_later_joins_the_phones_own_chat(
    bridged: Bridged,
) -> None:
    phone = bridged.phone()
    await phone.deliver(**{"from": ANA, "body": "pelo número"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    # The same person writes from their LID chat; WhatsApp has not told its phone yet.
    await phone.deliver(**{"lid": ANA_LID, "body": "pelo lid, sem telefone"})

    async def parked() -> bool:
        return await Job.filter(kind="wa_to_ghl", status=JobStatus.FAILED).exists()

    await wait_for(parked, timeout=30)
    assert await Contact.filter(location_id=LOCATION, is_group=False).count() == 2
    await phone.deliver(**{"lid": ANA_LID, "sender_phone": ANA, "body": "pelo lid, com"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 3, timeout=60)

    [row] = await Contact.filter(location_id=LOCATION, is_group=False)
    assert (row.chat_id, row.lid, row.phone_e164) == (f"{ANA}@c.us", ANA_LID, f"+{ANA}")
    bodies = [m.body for m in await Message.filter(location_id=LOCATION).order_by("id")]
    assert bodies == ["pelo número", "pelo lid, sem telefone", "pelo lid, com"]
    assert {m.contact_id for m in await Message.filter(location_id=LOCATION)} == {row.id}
    posted = bridged.inbound_calls()
    assert [m["message"] for m in posted] == bodies
    assert len({m["contactId"] for m in posted}) == 1 and len(bridged.fake.contacts) == 1

    # Later LID messages find the merged chat through its LID: no second row again.
    await phone.deliver(**{"lid": ANA_LID, "body": "de novo"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 4, timeout=60)
    assert await Contact.filter(location_id=LOCATION, is_group=False).count() == 1
    assert bridged.inbound_calls()[-1]["contactId"] == posted[0]["contactId"]


async def test_a_merge_never_reaches_another_locations_chat(bridged: Bridged) -> None:
    await Location.create(location_id="loc-other")
    other = await Contact.create(
        location_id="loc-other", chat_id=f"{ANA}@c.us", phone_e164=f"+{ANA}"
    )
    lid_row = await Contact.create(
        location_id=LOCATION, chat_id=ANA_LID, lid=ANA_LID, phone_e164=f"+{ANA}"
    )
    assert await merge_onto_phone(LOCATION, lid_row.id, ANA_LID, f"+{ANA}") is None
    assert (await Contact.get(id=other.id)).lid is None
    assert await Contact.filter(id=lid_row.id).exists()
