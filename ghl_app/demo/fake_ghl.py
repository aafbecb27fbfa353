"""A fake GoHighLevel on 127.0.0.1 (a Starlette app under uvicorn, real sockets) that enforces
what the real one does (shared/docs/ghl-api.md):

- the marketplace choose-location page (`/v2/oauth/chooselocation`), answering with the consent
  the test prepared: a location, an agency with locations, or a denial;
- form-encoded token calls, single-use authorization codes, single-use rotating refresh tokens;
- `/oauth/locationToken` and `/oauth/installedLocations` for agency tokens;
- the `Version` header each path wants (400 without it), bearer tokens that expire (401);
- a burst limit per resource (location or company): 429 with `Retry-After` and `X-RateLimit-*`;
- contacts: create, upsert (phone or email required), update, duplicate search; conversation
  search/create, inbound message, message status, attachment upload.

Every call is recorded (`fake.calls`, `fake.calls_to(path)`) and failures can be injected
(`fake.inject(...)`, `fake.lose_refresh_answers(...)`).

    async with run_fake_ghl() as fake:
        settings = test_settings(dir, GHL_API_URL=fake.url, GHL_MARKETPLACE_URL=fake.url)
        fake.consent_location("loc-1", "co-1")

This module is the entry point tests and bench/ import from: it holds `FakeGhl` with its route
table and the contact, conversation, message and upload routes, and `run_fake_ghl`. The shared
guard (call log, faults, Version, bearer, rate limit) and types are in fake_ghl_guard.py, the
OAuth / marketplace side in fake_ghl_oauth.py; both are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghl_app.demo.fake_ghl_conversations import ConversationUpdateFake
from ghl_app.demo.fake_ghl_guard import (
    CLIENT_ID,
    CLIENT_SECRET,
    VERSION_CONVERSATIONS,
    VERSION_DEFAULT,
    Grant,
    GuardedFake,
    RecordedCall,
)
from ghl_app.demo.fake_ghl_oauth import OAuthFake
from ghl_app.demo.fake_ghl_upload import upload_refusal
from ghl_app.demo.fake_ghl_workflows import WorkflowFake
from ghl_app.demo.ports import free_port

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "VERSION_CONVERSATIONS",
    "VERSION_DEFAULT",
    "FakeGhl",
    "Grant",
    "GuardedFake",
    "OAuthFake",
    "RecordedCall",
    "run_fake_ghl",
]


class FakeGhl(OAuthFake, WorkflowFake, ConversationUpdateFake):
    def __init__(
        self,
        *,
        rate_limit: tuple[int, float] = (100, 10.0),
        access_ttl: int = 86399,
        location_tokens_have_refresh: bool = False,
        hang_seconds: float = 3.0,
        seed: int = 7,
    ) -> None:
        super().__init__(
            rate_limit=rate_limit,
            access_ttl=access_ttl,
            location_tokens_have_refresh=location_tokens_have_refresh,
            hang_seconds=hang_seconds,
            seed=seed,
        )
        self.contacts: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.uploads: list[dict[str, Any]] = []
        # Files GHL hosts (attachments of replies typed in GHL): name -> (bytes, content type).
        self.files: dict[str, tuple[bytes, str]] = {}
        # What the inbound endpoint does to its next calls, one quirk per call (issue 13):
        # "store_then_hang" stores the message and answers only after `hang_seconds` (GHL
        # answering after our timeout), "empty_201" answers 201 with no body and stores nothing
        # (highlevel-api-docs issue #70).
        self.inbound_quirks: list[str] = []
        # Unknown in GHL's docs, so both are offered (the code handles both):
        # - `dateAdded` is the `date` posted ("sent") or the time GHL stored it ("stored");
        # - the message list's shape: the spec's (top-level `messages` array) or the one GHL
        #   really sends, nested under `messages` (issue #54).
        self.date_added = "sent"
        self.messages_shape = "nested"
        # - a post naming a contact or conversation GHL no longer has (deleted in GHL): a 400
        #   saying so ("not_found"), or a 500 as for a wrong conversation id (issue #6, "500").
        self.gone_answer = "not_found"
        # - whether GHL calls the provider's Delivery URL for a message we post with
        #   direction "outbound" (a phone-typed one we mirror): UNCONFIRMED (ghl-api-audit
        #   finding 15). When set to (delivery URL, sign(body) -> headers), it does, before it
        #   answers our post: the echo races our own bookkeeping.
        self.delivery_echo: tuple[str, Any] | None = None
        # - an inbound post that names the contact but no conversation: taken, into the
        #   contact's conversation (created when it has none), as the "Add an inbound message"
        #   page says ("Either conversationId or contactId is required"), or refused with a 422
        #   as the spec's ProcessMessageBodyDto (conversationId required) would.
        self.inbound_contact_only = "accepts"
        self.echoes: list[tuple[str, int]] = []  # (message id, the Delivery URL's status)
        self._init_workflows()
        self._init_conversation_updates()
        routes = self._routes() + self._workflow_routes() + self._conversation_update_routes()
        self.app = Starlette(routes=routes)

    def _routes(self) -> list[Route]:
        return [
            Route("/v2/oauth/chooselocation", self._choose_location, methods=["GET"]),
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/files/{name}", self._file, methods=["GET"]),
            Route("/oauth/locationToken", self._location_token, methods=["POST"]),
            Route("/oauth/installedLocations", self._installed_locations, methods=["GET"]),
            Route("/contacts/", self._create_contact, methods=["POST"]),
            Route("/contacts/upsert", self._upsert_contact, methods=["POST"]),
            Route("/contacts/search/duplicate", self._duplicate_contact, methods=["GET"]),
            Route("/contacts/{contact_id}", self._update_contact, methods=["PUT"]),
            Route("/contacts/{contact_id}/tags", self._add_tags, methods=["POST"]),
            Route("/conversations/search", self._search_conversations, methods=["GET"]),
            Route("/conversations/", self._create_conversation, methods=["POST"]),
            Route("/conversations/{conversation_id}", self._get_conversation, methods=["GET"]),
            Route("/conversations/messages/inbound", self._inbound_message, methods=["POST"]),
            Route("/conversations/messages/upload", self._upload, methods=["POST"]),
            Route(
                "/conversations/{conversation_id}/messages",
                self._conversation_messages,
                methods=["GET"],
            ),
            Route(
                "/conversations/messages/{message_id}/status", self._message_status, methods=["PUT"]
            ),
        ]

    # -- contacts ------------------------------------------------------------------------------

    async def _upsert_contact(self, request: Request) -> Response:
        call, grant, failed = await self._guard_location(request, in_query=False)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        body = call.json or {}
        if not body.get("phone") and not body.get("email"):
            # An upsert matches on phone or email: with neither it has nothing to match on.
            return self._ok(call, {"statusCode": 400, "message": "phone or email required"}, 400)
        for contact in self.contacts.values():
            if contact["locationId"] == grant.location_id and contact.get("phone") == body.get(
                "phone"
            ):
                contact.update({k: v for k, v in body.items() if k in ("name", "tags")})
                return self._ok(call, {"new": False, "contact": contact})
        contact = {"id": self._id("contact-"), **body}
        self.contacts[contact["id"]] = contact
        return self._ok(call, {"new": True, "contact": contact}, 201)

    async def _create_contact(self, request: Request) -> Response:
        call, grant, failed = await self._guard_location(request, in_query=False)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        body = call.json or {}
        contact = {"id": self._id("contact-"), **body}
        self.contacts[contact["id"]] = contact
        return self._ok(call, {"contact": contact}, 201)

    async def _update_contact(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        contact = self.contacts.get(request.path_params["contact_id"])
        if contact is None or contact["locationId"] != grant.location_id:
            return self._ok(call, {"statusCode": 400, "message": "Contact not found"}, 400)
        contact.update({k: v for k, v in (call.json or {}).items() if k in ("name", "tags")})
        return self._ok(call, {"succeded": True, "contact": contact})

    async def _add_tags(self, request: Request) -> Response:
        """POST /contacts/{id}/tags (apps/contacts.json `add-tags`): 201 `{tags}`, the others kept.
        (An upsert's `tags` replace them all: UpsertContactDto, as `_upsert_contact` does.)"""
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        contact = self.contacts.get(request.path_params["contact_id"])
        if contact is None or contact["locationId"] != grant.location_id:
            return self._ok(call, {"statusCode": 400, "message": "Contact not found"}, 400)
        tags = (call.json or {}).get("tags")
        if not isinstance(tags, list):
            return self._ok(call, {"statusCode": 422, "message": ["tags must be an array"]}, 422)
        contact["tags"] = list(dict.fromkeys([*(contact.get("tags") or []), *tags]))
        return self._ok(call, {"tags": contact["tags"]}, 201)

    def delete_contact(self, contact_id: str) -> None:
        """A user deletes the contact in GHL (DELETE /contacts/{id}); its conversation goes."""
        self.contacts.pop(contact_id, None)
        for conversation_id, conversation in list(self.conversations.items()):
            if conversation["contactId"] == contact_id:
                del self.conversations[conversation_id]

    async def _duplicate_contact(self, request: Request) -> Response:
        call, grant, failed = await self._guard_location(request, in_query=True)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        number = call.query.get("number")
        found = next(
            (
                c
                for c in self.contacts.values()
                if c["locationId"] == grant.location_id and c.get("phone") == number
            ),
            None,
        )
        return self._ok(call, {"contact": found})

    # -- conversations ---------------------------------------------------------------------------

    async def _search_conversations(self, request: Request) -> Response:
        call, grant, failed = await self._guard_location(request, in_query=True)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        found = [
            c
            for c in self.conversations.values()
            if c["locationId"] == grant.location_id
            and c["contactId"] == call.query.get("contactId")
        ]
        return self._ok(
            call, {"conversations": [self._listed(c) for c in found], "total": len(found)}
        )

    def _listed(self, conversation: dict[str, Any]) -> dict[str, Any]:
        """A conversation as the search lists it (ConversationSchema: every field required)."""
        contact = self.contacts.get(conversation["contactId"]) or {}
        name = str(contact.get("name") or "")
        return {
            **conversation,
            "lastMessageBody": "",
            "lastMessageType": "TYPE_CUSTOM_PROVIDER_SMS",
            "type": "TYPE_PHONE",
            "unreadCount": 0,
            "fullName": name,
            "contactName": name,
            "email": str(contact.get("email") or ""),
            "phone": str(contact.get("phone") or ""),
        }

    async def _get_conversation(self, request: Request) -> Response:
        """GET /conversations/{id} (apps/conversations.json `get-conversation`)."""
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        conversation = self.conversations.get(request.path_params["conversation_id"])
        if conversation is None or conversation["locationId"] != grant.location_id:
            return self._ok(call, {"statusCode": 400, "message": "Conversation not found"}, 400)
        # GetConversationByIdResponse: deleted, inbox, type (a number here), unreadCount.
        view = {**conversation, "deleted": False, "inbox": True, "type": 1, "unreadCount": 0}
        return self._ok(call, view)

    async def _create_conversation(self, request: Request) -> Response:
        call, grant, failed = await self._guard_location(request, in_query=False)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        body = call.json or {}
        conversation: dict[str, Any] = {
            "id": self._id("conv-"),
            "locationId": grant.location_id,
            "contactId": body.get("contactId"),
        }
        self.conversations[conversation["id"]] = conversation
        return self._ok(call, {"success": True, "conversation": conversation}, 201)

    async def _inbound_message(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        quirk = self.inbound_quirks.pop(0) if self.inbound_quirks else None
        if quirk == "empty_201":
            call.status = 201
            return Response(status_code=201)
        body = dict(call.json or {})
        contact = self.contacts.get(str(body.get("contactId")))
        if not body.get("conversationId") and contact is not None:
            if self.inbound_contact_only != "accepts":
                return self._ok(
                    call,
                    {
                        "statusCode": 422,
                        "message": ["conversationId must be a string"],
                        "error": "Unprocessable Entity",
                    },
                    422,
                )
            body["conversationId"] = self._conversation_of(grant.location_id or "", contact["id"])
        conversation = self.conversations.get(str(body.get("conversationId")))
        owned = (conversation or {}).get("locationId") == grant.location_id
        if not owned or contact is None or (conversation or {}).get("contactId") != contact["id"]:
            if self.gone_answer == "500":
                return self._ok(call, {"statusCode": 500, "message": "Internal server error"}, 500)
            return self._ok(call, {"statusCode": 400, "message": "Conversation not found"}, 400)
        conversation_id = body["conversationId"]
        message = {"id": self._id("msg-"), "locationId": grant.location_id, **body}
        message["conversationId"] = conversation_id
        # GetMessageResponseDto's fields, as the message list gives them back.
        message["body"] = body.get("message", "")
        message["direction"] = body.get("direction") or "outbound"  # the spec's default
        message["dateAdded"] = (
            body.get("date")
            if self.date_added == "sent" and body.get("date")
            else datetime.now(UTC).isoformat().replace("+00:00", "Z")
        )
        self.messages[message["id"]] = message
        if self.delivery_echo is not None and message["direction"] == "outbound":
            await self._echo(message)
            await asyncio.sleep(1.5)  # and answers our post only after the echo was handled
        if quirk == "store_then_hang":
            call.status = -1
            await asyncio.sleep(self.hang_seconds)
        # ProcessMessageResponseDto: success, conversationId, messageId and message required.
        return self._ok(
            call,
            {
                "success": True,
                "conversationId": conversation_id,
                "messageId": message["id"],
                "message": "Message added",
            },
        )

    async def _echo(self, message: dict[str, Any]) -> None:
        """ProviderOutboundMessage.md's payload for the message, signed, to the Delivery URL."""
        assert self.delivery_echo is not None
        url, sign = self.delivery_echo
        payload = {
            "contactId": message.get("contactId"),
            "locationId": message["locationId"],
            "messageId": message["id"],
            "type": "SMS",
            "message": message.get("message", ""),
            "attachments": message.get("attachments") or [],
            "phone": "",
        }
        body = json.dumps(payload).encode()
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                url, content=body, headers={"content-type": "application/json", **sign(body)}
            )
        self.echoes.append((message["id"], answer.status_code))

    def _conversation_of(self, location_id: str, contact_id: str) -> str:
        """The contact's conversation ("one conversationId is maintained per contact",
        ConversationProviders.md), created when it has none."""
        for conversation in self.conversations.values():
            if (
                conversation["locationId"] == location_id
                and conversation["contactId"] == contact_id
            ):
                return str(conversation["id"])
        conversation = {"id": self._id("conv-"), "locationId": location_id, "contactId": contact_id}
        self.conversations[conversation["id"]] = conversation
        return str(conversation["id"])

    async def _conversation_messages(self, request: Request) -> Response:
        """GET /conversations/{id}/messages (apps/conversations.json `get-messages`): newest
        first, `limit` (default 20) per page, `lastMessageId` the cursor."""
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        conversation_id = request.path_params["conversation_id"]
        conversation = self.conversations.get(conversation_id)
        if conversation is None or conversation["locationId"] != grant.location_id:
            return self._ok(call, {"statusCode": 400, "message": "Conversation not found"}, 400)
        try:
            limit = max(1, min(int(call.query.get("limit") or 20), 100))
        except ValueError:
            return self._ok(call, {"statusCode": 422, "message": ["limit must be a number"]}, 422)
        listed = [m for m in self.messages.values() if m["conversationId"] == conversation_id]
        listed.reverse()  # stored in arrival order: newest first
        cursor = call.query.get("lastMessageId")
        if cursor:
            ids = [m["id"] for m in listed]
            listed = listed[ids.index(cursor) + 1 :] if cursor in ids else []
        page, more = listed[:limit], len(listed) > limit
        fields = ("id", "locationId", "contactId", "conversationId", "dateAdded", "body")
        messages = [
            {
                **{k: m.get(k) for k in fields},
                "type": 2,
                "messageType": "TYPE_CUSTOM_PROVIDER_SMS",
                "direction": m["direction"],
                "status": m.get("status") or "delivered",
                "contentType": "text/plain",
                "attachments": m.get("attachments") or [],
                **(
                    {"conversationProviderId": m["conversationProviderId"]}
                    if m.get("conversationProviderId")
                    else {}
                ),
            }
            for m in page
        ]
        listing = {
            "lastMessageId": messages[-1]["id"] if messages else "",
            "nextPage": more,
            "messages": messages,
        }
        return self._ok(call, {"messages": listing} if self.messages_shape == "nested" else listing)

    async def _message_status(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        message = self.messages.get(request.path_params["message_id"])
        if message is None or message["locationId"] != grant.location_id:
            body = {"statusCode": 403, "message": "No conversation provider found for this message"}
            return self._ok(call, body, 403)
        message["status"] = (call.json or {}).get("status")
        message["error"] = (call.json or {}).get("error")
        return self._ok(call, {"success": True})

    async def _file(self, request: Request) -> Response:
        found = self.files.get(request.path_params["name"])
        if found is None:
            return Response(status_code=404)
        data, content_type = found
        return Response(data, media_type=content_type)

    async def _upload(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        form = await request.form()
        upload = form.get("fileAttachment")
        if upload is None or isinstance(upload, str):
            return self._ok(call, {"statusCode": 400, "message": "fileAttachment missing"}, 400)
        data = await upload.read()
        await form.close()  # the upload's spooled temporary file
        # GHL's type list and size limit, with the spec's 415/413 bodies (fake_ghl_upload.py).
        refused = upload_refusal(upload.filename or "", upload.content_type or "", len(data))
        if refused is not None:
            return self._ok(call, refused[1], refused[0])
        url = f"{self.url}/files/{self._id('file-')}/{upload.filename}"
        self.uploads.append(
            {
                "url": url,
                "filename": upload.filename,
                "content_type": upload.content_type,
                "data": data,
                "fields": {k: v for k, v in form.items() if isinstance(v, str)},
            }
        )
        return self._ok(call, {"uploadedFiles": {upload.filename: url}})


@contextlib.asynccontextmanager
async def run_fake_ghl(**options: Any) -> AsyncIterator[FakeGhl]:
    """Serve a `FakeGhl(**options)` on a free port for the duration of the block."""
    fake = FakeGhl(**options)
    port = free_port()
    config = uvicorn.Config(
        fake.app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.025)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=math.ceil(fake.hang_seconds) + 10)
    # Every request and answer held to GHL's own models (ghl_app/demo/ghl_models.py).
    assert not fake.model_violations, "\n".join(fake.model_violations[:20])
