"""GHL -> WhatsApp: the provider Delivery URL stores the reply (unique on GHL's message id, so a
repeat is a no-op) and answers at once; a job sends it through the number the routing rules
pick (routing.py: workflow action's choice, contact tag, last talked, default, oldest), after
asking WhatsApp for the canonical id of the phone (Brazil's 9th digit, whatsapp-web.md)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from connectors.base import Engine, EngineError, new_message_id
from ghl_app import phones
from ghl_app.bridge import media, receipts, routing
from ghl_app.bridge._errors import job_error
from ghl_app.bridge.acks import report_status
from ghl_app.bridge.media import fetch, voice_note
from ghl_app.bridge.pacing import Pacing
from ghl_app.bridge.send_turns import SendTurns
from ghl_app.errors import AppError
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import GhlApiError
from ghl_app.ghl.webhooks import whatsapp_dnd
from ghl_app.jobs import JobQueue
from ghl_app.jobs.errors import Deferred, PermanentError, RetryableError
from ghl_app.models import (
    Contact,
    Direction,
    Instance,
    Location,
    Message,
    MessageStatus,
    Origin,
)
from ghl_app.sessions import SessionManager

log = logging.getLogger(__name__)

SEND_TO_WHATSAPP = "ghl_to_wa"
MIRROR_TO_GHL = "workflow_to_ghl"  # handled by workflow_sends.py
WORKFLOW_MARK = "workflow"  # in Message.media: sent by a workflow action (its workflow id)
API_MARK = "api"  # in Message.media: sent by an integrator (its API key id)
# Sent from outside GHL's conversation: posted into it once WhatsApp took it.
MIRROR_MARKS = {WORKFLOW_MARK, API_MARK}

DND_REASON = "the contact has Do Not Disturb on in GHL: nothing is sent to them on WhatsApp"

# (the message, its new status, the error): integrators' message.status events.
StatusListener = Callable[[Message, MessageStatus, str | None], Awaitable[None]]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


async def _record_route(message: Message, route: routing.Route) -> None:
    """The journey shows which rule picked the number (docs in routing.py)."""
    record = {**(message.media or {}), "route": route.as_record()}
    message.media = record
    await Message.filter(id=message.id).update(media=record)


class _GhlContact:
    """The GHL contact, fetched at most once per send and only when a rule needs it."""

    def __init__(self, client: GhlClient, location_id: str, contact_id: str) -> None:
        self._client = client
        self._location_id = location_id
        self._contact_id = contact_id
        self._data: dict[str, Any] | None = None

    async def _load(self) -> dict[str, Any]:
        if self._data is None:
            try:
                self._data = await self._client.get_contact(self._location_id, self._contact_id)
            except GhlApiError as exc:
                raise job_error(exc) from exc
        return self._data

    async def tags(self) -> list[str]:
        tags = (await self._load()).get("tags")
        return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []

    async def dnd(self) -> bool:
        return whatsapp_dnd(await self._load())

    async def phone(self) -> str:
        phone = (await self._load()).get("phone")
        return phone if isinstance(phone, str) else ""


# A reply waits this long for its number to come back (stream down, browser restarting).
RECONNECT_WAIT = timedelta(hours=6)


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.0f} hours"


# A number WhatsApp finds no account for is asked about this many times, this far apart (past
# wa-js's 15 s cache of a miss), before the send fails as "not on WhatsApp".
LOOKUP_ATTEMPTS = 3
LOOKUP_RETRY_S = 20.0

# How long a mirrored post whose answer is still missing holds a matching Delivery URL call.
ECHO_WINDOW = timedelta(minutes=2)


async def _mirror_in_flight(location_id: str, contact_id: str, message: Message) -> bool:
    """A message of this GHL contact with the same text that we posted into GHL ourselves
    moments ago, still without its GHL id."""
    return (
        await Message.filter(
            location_id=location_id,
            contact__ghl_contact_id=contact_id,
            ghl_message_id=None,
            ghl_posted_at__gte=datetime.now(UTC) - ECHO_WINDOW,
            body=message.body,
        )
        .exclude(id=message.id)
        .exclude(status=MessageStatus.SYNCED)  # answered (its echo already recognised)
        .exists()
    )


def _required(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise AppError("missing_field", f"The outbound message has no {name}.", 400)
    return value.strip()


class OutboundBridge:
    def __init__(
        self,
        *,
        queue: JobQueue,
        client: GhlClient,
        sessions: SessionManager,
        http: httpx.AsyncClient,
        routing_tag_prefix: str = "whatsapp:",
        attachment_hosts: tuple[str, ...] = fetch.GHL_FILE_HOSTS,
        pacing: Pacing | None = None,
    ) -> None:
        # Each number's sends take turns (issue 16); no pacing unless the app gives defaults.
        self.turns = SendTurns(pacing or Pacing(min_gap_s=0, jitter_s=0, per_minute=0))
        self._fetcher = fetch.AttachmentFetcher(
            http, allowed_hosts=attachment_hosts, max_bytes=media.MAX_OUTBOUND_BYTES
        )
        self._routing_tag_prefix = routing_tag_prefix
        self.status_listeners: list[StatusListener] = []
        self._queue = queue
        self._client = client
        self._sessions = sessions
        self._http = http
        queue.register(SEND_TO_WHATSAPP, self._send)

    async def accept(self, payload: dict[str, Any]) -> bool:
        """Store a verified ProviderOutboundMessage and its send job. False = already seen."""
        ghl_id = _required(payload, "messageId")
        location_id = _required(payload, "locationId")
        contact_id = _required(payload, "contactId")
        attachments = payload.get("attachments") or []
        if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
            raise AppError("bad_attachments", "attachments must be a list of URLs.", 400)
        text = payload.get("message") if isinstance(payload.get("message"), str) else ""
        if not text and not attachments:
            raise AppError("empty_message", "The outbound message has no text or attachment.", 400)
        location = await Location.get_or_none(location_id=location_id)
        if location is None or not location.is_installed:
            raise AppError("not_installed", "This location has not installed the app.", 404)
        if await Message.exists(ghl_message_id=ghl_id):
            return False
        try:
            async with in_transaction() as conn:
                row = await Message.create(
                    location_id=location_id,
                    direction=Direction.OUTBOUND,
                    origin=Origin.GHL,
                    ghl_message_id=ghl_id,
                    # Reserved before anything is sent: the echo of this send is recognised.
                    wa_message_id=new_message_id(),
                    body=text,
                    media={"attachments": attachments} if attachments else None,
                    status=MessageStatus.PENDING,
                    using_db=conn,
                )
                await self._queue.enqueue(
                    SEND_TO_WHATSAPP,
                    {
                        "message_id": row.id,
                        "contact_id": contact_id,
                        "phone": payload.get("phone") or "",
                    },
                    ordering_key=f"{location_id}:{contact_id}",
                    location_id=location_id,
                    using_db=conn,
                )
        except IntegrityError:
            return False
        self._queue.wake()
        log.info("GHL reply stored", extra={"location_id": location_id, "message_id": row.id})
        return True

    async def _send(self, job: Any) -> None:
        location_id = str(job.location_id)
        message = await Message.get_or_none(
            id=int(job.payload["message_id"]), location_id=location_id
        )
        if message is None or message.status != MessageStatus.PENDING:
            return  # sent already (or recognised as an echo): a replay sends nothing
        contact_id = str(job.payload["contact_id"])
        if contact_id and await _mirror_in_flight(location_id, contact_id, message):
            # GHL may call the Delivery URL for a message we posted into it ourselves (a
            # phone-typed one, a workflow's): UNCONFIRMED, ghl-api-audit finding 15. Until our
            # post's answer names its GHL id, this may be that echo: it waits, uncounted. When
            # the answer comes, the echo is marked sent (`_mark_synced`) and never goes out.
            raise Deferred("waiting for GHL's answer to a message we mirrored", after_s=1.0)
        contact = (
            await Contact.get_or_none(location_id=location_id, ghl_contact_id=contact_id)
            if contact_id
            else None
        )
        ghl_contact = _GhlContact(self._client, location_id, contact_id)
        try:
            if contact is not None and contact.dnd:
                raise PermanentError(DND_REASON)
            route = await routing.pick_number(
                location_id,
                contact,
                chosen_instance_id=_uuid(job.payload.get("instance_id")),
                chosen_rule=str(job.payload.get("chosen_by") or "action"),
                only_chosen=bool(job.payload.get("only_chosen")),
                load_tags=ghl_contact.tags if contact_id else None,
                tag_prefix=self._routing_tag_prefix,
            )
            instance = route.instance
            await _record_route(message, route)
            engine = await self._sessions.engine_of(instance.id)
            if engine is None or not engine.running:
                raise routing.Reconnecting("the WhatsApp session is restarting: the send waits")
            phone = str(job.payload.get("phone") or "")
            if contact is None and not phone:
                phone = await ghl_contact.phone()  # a workflow send to a contact new to us
                if await ghl_contact.dnd():
                    raise PermanentError(DND_REASON)
            chat_id = await self._chat_id(engine, contact, phone, attempt=job.attempts)
            contact = await self._remember(location_id, contact, contact_id, chat_id, instance)
            # The instance is set before sending: the echo is matched on (instance, wa id).
            await Message.filter(id=message.id).update(
                instance_id=instance.id, contact_id=contact.id
            )
            await self.turns.take(engine, instance.id, message, chat_id)
            await self._deliver(engine, message, chat_id)
            self.turns.done(instance.id, message.id)
        except PermanentError as exc:
            await self._fail(message, str(exc))
            raise
        except routing.Reconnecting as exc:
            waited = datetime.now(UTC) - message.created_at
            if waited > RECONNECT_WAIT:
                reason = f"{exc.message}, and was not back within {_hours(RECONNECT_WAIT)}"
                await self._fail(message, reason)
                raise PermanentError(reason) from exc
            await Message.filter(id=message.id).update(error=exc.message[:500])
            raise
        except RetryableError as exc:
            if job.attempts >= job.max_attempts:
                # The last attempt: GHL hears it failed, with the reason, instead of a reply
                # left pending for ever.
                await self._fail(message, str(exc))
                raise PermanentError(str(exc)) from exc
            await Message.filter(id=message.id).update(error=str(exc)[:500])
            raise
        await Message.filter(id=message.id).update(status=MessageStatus.SENT, error=None)
        await self._tell(message, MessageStatus.SENT, None)
        if MIRROR_MARKS & set(message.media or {}):
            await self._queue.enqueue(
                MIRROR_TO_GHL,
                {"message_id": message.id},
                ordering_key=f"{location_id}:{contact_id}",
                location_id=location_id,
            )
        log.info(
            "GHL reply sent to WhatsApp",
            extra={
                "instance_id": str(instance.id),
                "location_id": location_id,
                "message_id": message.id,
            },
        )

    async def _chat_id(
        self, engine: Engine, contact: Contact | None, phone: str, *, attempt: int
    ) -> str:
        if contact is not None and not phones.is_lid(contact.chat_id):
            return contact.chat_id
        if not phone and contact is not None and contact.phone_e164:
            phone = contact.phone_e164  # the phone WhatsApp gave for this LID chat
        e164 = phones.to_e164(phone) if phone else None
        if e164 is None:
            if contact is not None:
                return contact.chat_id  # a LID chat with no phone known: WhatsApp has the chat
            raise PermanentError(f"the contact's phone {phone!r} is not a valid number")
        try:
            resolved = await engine.resolve_phone(e164.lstrip("+"))
        except EngineError as exc:
            raise RetryableError(f"WhatsApp did not answer the number lookup: {exc}") from exc
        if resolved is None:
            # wa-js answers a failed lookup exactly like a number with no account (null:
            # contact/functions/queryWidExists.ts catches the server error) and caches it 15 s:
            # asked again after the cache, and only the last answer is taken as final.
            if attempt < LOOKUP_ATTEMPTS:
                raise RetryableError(
                    f"WhatsApp found no account for {e164} (a failed lookup looks the same):"
                    " asking again",
                    retry_after_s=LOOKUP_RETRY_S,
                )
            raise PermanentError(f"{e164} is not on WhatsApp")
        return resolved.wid

    async def _remember(
        self,
        location_id: str,
        contact: Contact | None,
        ghl_contact_id: str,
        chat_id: str,
        instance: Instance,
    ) -> Contact:
        if contact is None:
            contact, _ = await Contact.get_or_create(
                location_id=location_id,
                chat_id=chat_id,
                defaults={
                    "phone_e164": phones.to_e164("+" + (phones.wa_user_from_wid(chat_id) or ""))
                },
            )
        fields: dict[str, Any] = {"last_instance_id": instance.id}
        if ghl_contact_id:  # an API send knows no GHL contact: the mapping is kept as it is
            fields["ghl_contact_id"] = ghl_contact_id
        await Contact.filter(id=contact.id, location_id=location_id).update(**fields)
        return contact

    async def _deliver(self, engine: Engine, message: Message, chat_id: str) -> None:
        wa_id = message.wa_message_id or new_message_id()
        attachments = list((message.media or {}).get("attachments") or [])
        try:
            if not attachments:
                sent = await engine.send_text(chat_id, message.body or "", message_id=wa_id)
                await receipts.expect(message, sent.recipients or ())
                return
            if len(attachments) > fetch.MAX_ATTACHMENTS:
                raise PermanentError(
                    f"{len(attachments)} attachments: at most {fetch.MAX_ATTACHMENTS} per message"
                )
            # The per-file cap also bounds the whole message: what one file used is spent.
            budget = media.MAX_OUTBOUND_BYTES * 2
            reserved_used = False
            for index, url in enumerate(attachments):
                data, mimetype, filename = await self._fetch(url, budget)
                budget -= len(data)
                caption = (message.body or None) if index == 0 else None
                voice = await voice_note.as_voice_note(data, mimetype, filename)
                if voice is not None:
                    data, mimetype, filename = voice.data, voice.mimetype, voice.filename
                    await voice_note.remember_duration(
                        message.id, message.location_id, voice.seconds
                    )
                    if caption:  # a voice note has no caption: the text goes first, alone
                        sent = await engine.send_text(chat_id, caption, message_id=wa_id)
                        await receipts.expect(message, sent.recipients or ())
                        caption, reserved_used = None, True
                # The first send carries the reserved id (and the text as its caption); later
                # files get ids of their own, stored first like every send.
                own_id = not reserved_used
                file_id = await self._reserve_extra(message) if reserved_used else wa_id
                reserved_used = True
                sent = await engine.send_file(
                    chat_id,
                    data,
                    mimetype=mimetype,
                    filename=filename,
                    caption=caption,
                    message_id=file_id,
                    voice=voice is not None,
                )
                if own_id:  # the message's own id: its group receipts count
                    await receipts.expect(message, sent.recipients or ())
        except EngineError as exc:
            if exc.code in ("not_running", "wa_timeout", "send_failed"):
                raise RetryableError(f"WhatsApp send failed: {exc}") from exc
            raise PermanentError(f"WhatsApp refused the message: {exc}") from exc

    async def _reserve_extra(self, parent: Message) -> str:
        extra = await Message.create(
            instance_id=parent.instance_id,
            location_id=parent.location_id,
            contact_id=parent.contact_id,
            direction=Direction.OUTBOUND,
            origin=Origin.GHL,
            wa_message_id=new_message_id(),
            status=MessageStatus.SENT,
            media={"part_of": parent.id},
        )
        assert extra.wa_message_id is not None
        return extra.wa_message_id

    async def _fetch(self, url: str, budget: int) -> tuple[bytes, str, str]:
        if budget <= 0:
            raise PermanentError("attachments larger than the per-message cap")
        try:
            got = await self._fetcher.fetch(url, budget=budget)
        except fetch.AttachmentRefused as exc:
            # A refused URL never succeeds later: a clear failure in GHL, no retry loop.
            raise PermanentError(f"attachment refused: {exc}") from exc
        except httpx.HTTPError as exc:
            raise RetryableError(f"attachment could not be fetched: {exc}") from exc
        if not got.mimetype.startswith(media.OUTBOUND_MIME_PREFIXES):
            raise PermanentError(f"attachment type {got.mimetype} cannot be sent on WhatsApp")
        return got.data, got.mimetype, got.filename or media.default_name(got.mimetype)

    async def _tell(self, message: Message, status: MessageStatus, error: str | None) -> None:
        for listener in self.status_listeners:
            await listener(message, status, error)

    async def _fail(self, message: Message, reason: str) -> None:
        await Message.filter(id=message.id).update(status=MessageStatus.FAILED, error=reason[:500])
        await self._tell(message, MessageStatus.FAILED, reason[:500])
        log.warning(
            "GHL reply failed: %s",
            reason,
            extra={"location_id": message.location_id, "message_id": message.id},
        )
        if message.ghl_message_id:
            await report_status(
                self._queue,
                message.location_id,
                message.ghl_message_id,
                "failed",
                reason,
                ordering_key=f"status:{message.ghl_message_id}",
            )
