"""The bridge as one part of the app: wires the three directions to the queue, the GHL client
and the session manager's event stream."""

from __future__ import annotations

import uuid

import httpx

from connectors.events import (
    Ack,
    ChatRead,
    Edited,
    EngineEvent,
    Ignored,
    IncomingCall,
    Message,
    Reaction,
    Revoked,
)
from ghl_app.bridge.acks import AckBridge
from ghl_app.bridge.event_kinds import EventKinds
from ghl_app.bridge.inbound import InboundBridge
from ghl_app.bridge.media.links import MediaLinks
from ghl_app.bridge.outbound import OutboundBridge
from ghl_app.bridge.pacing import Pacing
from ghl_app.bridge.read_sync import ReadSync
from ghl_app.ghl.client import GhlClient
from ghl_app.jobs import JobQueue
from ghl_app.sessions import SessionManager


class Bridge:
    def __init__(
        self,
        *,
        queue: JobQueue,
        client: GhlClient,
        sessions: SessionManager,
        provider_id: str,
        media_links: MediaLinks,
        routing_tag_prefix: str = "whatsapp:",
        attachment_hosts: tuple[str, ...] = (),
        pacing: Pacing | None = None,
    ) -> None:
        self.http = httpx.AsyncClient(timeout=30)
        self.inbound = InboundBridge(
            queue=queue,
            client=client,
            sessions=sessions,
            provider_id=provider_id,
            media_links=media_links,
        )
        self.outbound = OutboundBridge(
            queue=queue,
            client=client,
            sessions=sessions,
            http=self.http,
            routing_tag_prefix=routing_tag_prefix,
            attachment_hosts=attachment_hosts,
            pacing=pacing,
        )
        self.acks = AckBridge(queue=queue, client=client)
        self.kinds = EventKinds(store=self.inbound.store, sessions=sessions)
        self.reads = ReadSync(queue=queue, client=client, sessions=sessions)
        sessions.add_message_listener(self.on_engine_event)

    async def on_engine_event(
        self, instance_id: uuid.UUID, location_id: str, event: EngineEvent
    ) -> None:
        if isinstance(event, Message):
            await self.inbound.store(instance_id, location_id, event)
        elif isinstance(event, Ignored):
            await self.inbound.store_ignored(instance_id, location_id, event)
        elif isinstance(event, Ack):
            await self.acks.on_ack(instance_id, location_id, event)
        elif isinstance(event, Reaction):
            await self.kinds.on_reaction(instance_id, location_id, event)
        elif isinstance(event, Edited):
            await self.kinds.on_edited(instance_id, location_id, event)
        elif isinstance(event, Revoked):
            await self.kinds.on_revoked(instance_id, location_id, event)
        elif isinstance(event, IncomingCall):
            await self.kinds.on_call(instance_id, location_id, event)
        elif isinstance(event, ChatRead):
            await self.reads.on_chat_read(instance_id, location_id, event)

    async def aclose(self) -> None:
        await self.http.aclose()
