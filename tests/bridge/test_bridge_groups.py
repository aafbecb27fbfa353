"""Group chats, when the instance lets them in: one GHL contact per group, named after its subject
and renamed with it, each message starting with its sender's name."""

from __future__ import annotations

import uuid

from bridge.conftest import Bridged, wait_for

from ghl_app.bridge.contacts import local_contact
from ghl_app.models import Contact, Instance, Location

GROUP = "120363000000000002@g.us"
INBOUND = "/conversations/messages/inbound"


def _group_contacts(bridged: Bridged) -> list[dict[str, object]]:
    return [c for c in bridged.fake.contacts.values() if "whatsapp-group" in (c.get("tags") or [])]


async def test_a_group_is_one_ghl_contact_named_after_its_subject(bridged: Bridged) -> None:
    headers = {"Authorization": f"Bearer {bridged.token}"}
    async with bridged.app.client(headers=headers) as client:
        turned = await client.patch(
            f"/api/instances/{bridged.instance_id}/settings", json={"groups_enabled": True}
        )
        assert turned.json() == {"groups_enabled": True, "is_default": False}
    phone = bridged.phone()
    carla = {"group": GROUP, "author": "5511911112222", "notifyName": "Carla"}
    bruno = {"group": GROUP, "author": "5511933334444", "notifyName": "Bruno"}
    await phone.deliver(**carla, subject="Família Silva", body="bom dia")
    await phone.deliver(**bruno, body="oi, tudo bem?")
    await wait_for(lambda: len(bridged.inbound_calls()) == 2)

    [group] = _group_contacts(bridged)
    assert group["name"] == "Família Silva"
    calls = bridged.inbound_calls()
    assert [c["message"] for c in calls] == ["Carla: bom dia", "Bruno: oi, tudo bem?"]
    assert {c["contactId"] for c in calls} == {group["id"]}

    await phone.rename_group(GROUP, "Família Silva 2025")
    await phone.deliver(**carla, body="novo nome")
    await wait_for(lambda: len(bridged.inbound_calls()) == 3)
    local = await Contact.get(chat_id=GROUP)
    assert local.name == "Família Silva 2025"
    assert local.ghl_contact_id == group["id"]
    assert [c["name"] for c in _group_contacts(bridged)] == ["Família Silva 2025"]
    assert bridged.inbound_calls()[-1]["message"] == "Carla: novo nome"
    # The rename reached GHL once, before the message that came with the new subject.
    paths = [c.path for c in bridged.fake.calls if c.status < 300]
    rename = f"/contacts/{group['id']}"
    assert paths.count(rename) == 1
    assert paths.index(rename) < len(paths) - 1 - paths[::-1].index(INBOUND)


async def test_two_groups_are_two_ghl_contacts(bridged: Bridged) -> None:
    headers = {"Authorization": f"Bearer {bridged.token}"}
    async with bridged.app.client(headers=headers) as client:
        await client.patch(
            f"/api/instances/{bridged.instance_id}/settings", json={"groups_enabled": True}
        )
    phone = bridged.phone()
    other = "120363000000000003@g.us"
    carla = {"author": "5511911112222", "notifyName": "Carla"}
    await phone.deliver(group=GROUP, **carla, subject="Vendas", body="a")
    await phone.deliver(group=other, **carla, subject="Suporte", body="b")
    await wait_for(lambda: len(bridged.inbound_calls()) == 2)
    groups = {str(c["name"]): c["id"] for c in _group_contacts(bridged)}
    assert set(groups) == {"Vendas", "Suporte"}
    by_text = {c["message"]: c["contactId"] for c in bridged.inbound_calls()}
    assert by_text["Carla: a"] == groups["Vendas"]
    assert by_text["Carla: b"] == groups["Suporte"]


async def test_a_person_keeps_the_first_name_a_group_follows_its_subject(db: str) -> None:
    await Location.create(location_id="loc-1")
    instance = await Instance.create(location_id="loc-1", name="Main")
    iid: uuid.UUID = instance.id

    async def contact(chat_id: str, name: str | None, *, is_group: bool) -> Contact:
        local = await local_contact(
            "loc-1", chat_id, sender_phone=None, name=name, is_group=is_group, instance_id=iid
        )
        return await Contact.get(id=local.id, location_id="loc-1")

    await contact("5511911112222@c.us", "Ana", is_group=False)
    person = await contact("5511911112222@c.us", "Ana Paula 🌻", is_group=False)
    assert person.name == "Ana"
    assert (await Contact.get(chat_id="5511911112222@c.us")).name == "Ana"

    await contact(GROUP, None, is_group=True)
    named = await contact(GROUP, "Vendas", is_group=True)
    unknown = await contact(GROUP, None, is_group=True)
    renamed = await contact(GROUP, "Vendas SP", is_group=True)
    assert (named.name, unknown.name, renamed.name) == ("Vendas", "Vendas", "Vendas SP")
    assert (await Contact.get(chat_id=GROUP)).name == "Vendas SP"
