"""The fake GHL's screens for the demo: the sub-account frame that embeds our page as a custom
menu link does, and a Conversations view over the fake GHL's contacts and messages.

The frame answers our page's `REQUEST_USER_DATA` with the user context encrypted the way GHL
does (ghl-api.md, "SSO for custom pages"), so the page signs in by the app's real SSO path. A
reply typed in the Conversations view is stored as GHL stores it, then posted to the provider's
Delivery URL signed with `X-GHL-Signature` (Ed25519 over the body, GHL's webhook signature;
the demo's public key is the app's GHL_WEBHOOK_ED25519_KEY), as GHL calls our outbound webhook.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ghl_app.demo.fake_ghl import FakeGhl
from ghl_app.demo.paths import STATIC_DIR
from ghl_app.sso import encrypt_like_ghl

log = logging.getLogger("ghl_app.demo")

MAX_TEXT = 4096


@dataclass
class DemoAccount:
    """The sub-account the demo installs, and the user who opens it."""

    location_id: str
    company_id: str
    shared_secret: str
    delivery_url: str  # our provider's Delivery URL (/webhooks/ghl/outbound)
    signing_key: ed25519.Ed25519PrivateKey
    user_name: str = "Demo User"

    def user_context(self) -> dict[str, Any]:
        return {
            "userId": "demo-user",
            "companyId": self.company_id,
            "role": "admin",
            "type": "location",
            "userName": self.user_name,
            "email": "demo@example.com",
            "activeLocation": self.location_id,
        }


def _error(code: str, message: str, status: int = 400) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def conversations_of(fake: FakeGhl, location_id: str) -> list[dict[str, Any]]:
    """The location's conversations, newest activity first, each with its messages in order."""
    listed = []
    for conversation in fake.conversations.values():
        if conversation.get("locationId") != location_id:
            continue
        contact = fake.contacts.get(str(conversation.get("contactId"))) or {}
        messages = sorted(
            (m for m in fake.messages.values() if m.get("conversationId") == conversation["id"]),
            key=lambda m: str(m.get("dateAdded") or ""),
        )
        listed.append(
            {
                "id": conversation["id"],
                "name": contact.get("name") or contact.get("firstName") or "",
                "phone": contact.get("phone") or "",
                "last": str(messages[-1].get("dateAdded") or "") if messages else "",
                "messages": [
                    {
                        "id": m["id"],
                        "direction": m.get("direction"),
                        "body": m.get("body") or m.get("message") or "",
                        "status": m.get("status") or "",
                    }
                    for m in messages
                ],
            }
        )
    listed.sort(key=lambda c: str(c["last"]), reverse=True)
    return listed


async def reply_from_ghl(
    fake: FakeGhl, account: DemoAccount, conversation_id: str, text: str
) -> str:
    """A reply typed in GHL's Conversations: stored, then the provider's Delivery URL is called
    (ProviderOutboundMessage.md's payload), signed as GHL signs its webhooks."""
    conversation = fake.conversations[conversation_id]
    contact = fake.contacts.get(str(conversation.get("contactId"))) or {}
    message_id = fake._id("msg-")
    fake.messages[message_id] = {
        "id": message_id,
        "locationId": account.location_id,
        "conversationId": conversation_id,
        "contactId": conversation.get("contactId"),
        "body": text,
        "message": text,
        "direction": "outbound",
        "type": "SMS",
        "status": "pending",
        "dateAdded": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    payload: dict[str, Any] = {
        "contactId": conversation.get("contactId"),
        "locationId": account.location_id,
        "messageId": message_id,
        "type": "SMS",
        "phone": contact.get("phone") or "",
        "message": text,
        "attachments": [],
        "userId": "demo-user",
    }
    body = json.dumps(payload).encode()
    signature = base64.b64encode(account.signing_key.sign(body)).decode()
    async with httpx.AsyncClient(timeout=20) as client:
        answer = await client.post(
            account.delivery_url,
            content=body,
            headers={"content-type": "application/json", "x-ghl-signature": signature},
        )
    log.info(
        "demo GHL reply sent to the delivery URL location=%s message=%s status=%d",
        account.location_id,
        message_id,
        answer.status_code,
    )
    return message_id


def ghl_view_routes(fake: FakeGhl, account: DemoAccount) -> list[Route]:
    frame_template = (STATIC_DIR / "frame.html").read_text()
    conversations_page = (STATIC_DIR / "conversations.html").read_text()

    async def frame(_request: Request) -> Response:
        # A fresh encryption per page view, as GHL answers each REQUEST_USER_DATA.
        payload = encrypt_like_ghl(account.shared_secret, account.user_context())
        page = frame_template.replace("__PAYLOAD__", json.dumps(payload))
        page = page.replace("__LOCATION__", account.location_id)
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def conversations(_request: Request) -> Response:
        return HTMLResponse(conversations_page, headers={"Cache-Control": "no-store"})

    async def listing(_request: Request) -> Response:
        return JSONResponse({"conversations": conversations_of(fake, account.location_id)})

    async def reply(request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        found = fake.conversations.get(conversation_id)
        if found is None or found.get("locationId") != account.location_id:
            return _error("not_found", "no such conversation", 404)
        try:
            body = await request.json()
        except ValueError:
            body = None
        text = str((body or {}).get("text") or "").strip() if isinstance(body, dict) else ""
        if not text or len(text) > MAX_TEXT:
            log.info("demo GHL reply refused: empty or too long location=%s", account.location_id)
            return _error("bad_message", f"a text of 1 to {MAX_TEXT} characters is needed")
        message_id = await reply_from_ghl(fake, account, conversation_id, text)
        return JSONResponse({"messageId": message_id}, status_code=201)

    return [
        Route("/", frame, methods=["GET"]),
        Route("/ghl/conversations", conversations, methods=["GET"]),
        Route("/ghl/api/conversations", listing, methods=["GET"]),
        Route("/ghl/api/conversations/{conversation_id}/messages", reply, methods=["POST"]),
    ]
