"""The GHL REST calls the bridge makes, per location: contacts, conversations, messages,
attachments. Each goes through the one transport (`GhlHttp`: pool, Version header, limiter,
retries) with the location's token, refreshed once when GHL answers 401.
"""

from __future__ import annotations

from typing import Any

from ghl_app.ghl.http import GhlApiError, GhlHttp
from ghl_app.ghl.tokens import TokenManager

# Messages asked for per page when a conversation is searched (the spec's default is 20 and its
# maximum is not documented: a smaller page only means more pages).
MESSAGES_PAGE = 50


class GhlClient:
    def __init__(
        self, http: GhlHttp, tokens: TokenManager, *, budget_wait_s: float | None = None
    ) -> None:
        self._http = http
        self._tokens = tokens
        # Set for job handlers: a call that would wait longer for its location's budget raises
        # `BudgetSpent` (the job is deferred) instead of holding a worker.
        self._budget_wait_s = budget_wait_s

    async def _call(
        self,
        location_id: str,
        method: str,
        path: str,
        *,
        retry_safe: bool,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        deferrable: bool = False,
    ) -> dict[str, Any]:
        token = await self._tokens.location_token(location_id)
        for second_try in (False, True):
            try:
                return await self._http.request(
                    method,
                    path,
                    limit_key=location_id,
                    bearer=token,
                    retry_safe=retry_safe,
                    params=params,
                    json=json,
                    data=data,
                    files=files,
                    budget_wait_s=self._budget_wait_s,
                    deferrable=deferrable,
                )
            except GhlApiError as exc:
                # A 401 says GHL no longer accepts the token (revoked, rotated elsewhere):
                # refresh once. A 401 is an answer before any processing, so re-sending is safe.
                if exc.status != 401 or second_try:
                    raise
                token = await self._tokens.refresh_location(location_id, stale=token)
        raise AssertionError("unreachable")

    # -- contacts (Version 2021-07-28) ---------------------------------------------------------

    async def upsert_contact(
        self, location_id: str, *, phone: str, name: str | None = None
    ) -> dict[str, Any]:
        """Create or update the contact by phone (GHL applies the location's duplicate rules).
        Returns the contact object (its `id` is the GHL contact id). Never with tags: an upsert's
        `tags` "will overwrite all current Tags" (apps/contacts.json UpsertContactDto); they
        are added with `add_tags`."""
        body: dict[str, Any] = {"locationId": location_id, "phone": phone}
        if name:
            body["name"] = name
        answer = await self._call(
            location_id, "POST", "/contacts/upsert", retry_safe=True, json=body
        )
        contact = answer.get("contact")
        return contact if isinstance(contact, dict) else answer

    async def add_tags(self, location_id: str, contact_id: str, tags: list[str]) -> None:
        """POST /contacts/{id}/tags (apps/contacts.json `add-tags`): adds, keeps the others."""
        await self._call(
            location_id,
            "POST",
            f"/contacts/{contact_id}/tags",
            retry_safe=True,
            json={"tags": tags},
        )

    async def create_contact(
        self,
        location_id: str,
        *,
        name: str | None,
        phone: str | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """POST /contacts/: a contact no search found (a WhatsApp group, which has no phone to
        match on, or a phone no spelling of which is in GHL), created with its tags. Not retried
        on a timeout or 5xx: a repeat would be a second contact (the job's retry searches
        first)."""
        body: dict[str, Any] = {"locationId": location_id}
        if name:
            body["name"] = name
        if phone:
            body["phone"] = phone
        if tags:
            body["tags"] = tags
        answer = await self._call(location_id, "POST", "/contacts/", retry_safe=False, json=body)
        contact = answer.get("contact")
        return contact if isinstance(contact, dict) else answer

    async def rename_contact(self, location_id: str, contact_id: str, name: str) -> None:
        """PUT /contacts/{id} with the name only (other fields untouched); safe to repeat.
        Deferrable: near the end of the daily budget a rename waits for tomorrow."""
        await self._call(
            location_id,
            "PUT",
            f"/contacts/{contact_id}",
            retry_safe=True,
            json={"name": name},
            deferrable=True,
        )

    async def mark_conversation_read(self, location_id: str, conversation_id: str) -> None:
        """PUT /conversations/{id} `{locationId, unreadCount: 0}` (apps/conversations.json
        `update-conversation`, UpdateConversationDto; conversations.write): the conversation
        reads as read in GHL. Sets a state, so safe to repeat; deferrable near the budget."""
        await self._call(
            location_id,
            "PUT",
            f"/conversations/{conversation_id}",
            retry_safe=True,
            json={"locationId": location_id, "unreadCount": 0},
            deferrable=True,
        )

    async def get_contact(self, location_id: str, contact_id: str) -> dict[str, Any]:
        """GET /contacts/{id} (apps/contacts.json `get-contact`, answer `{contact}`): a workflow
        send learns the phone and the routing tags of a contact it has not talked to."""
        answer = await self._call(location_id, "GET", f"/contacts/{contact_id}", retry_safe=True)
        contact = answer.get("contact")
        return contact if isinstance(contact, dict) else {}

    async def fire_trigger(self, location_id: str, path: str, event: dict[str, Any]) -> None:
        """POST an event to a workflow trigger's targetUrl (a path under GHL_API_URL), with the
        location's token: GHL answers 401 to an unauthenticated fire (practice, see
        docs/ghl-workflows.md). Not retried here: the job queue retries it."""
        await self._call(location_id, "POST", path, retry_safe=False, json=event)

    async def find_contact_by_phone(self, location_id: str, phone: str) -> dict[str, Any] | None:
        answer = await self._call(
            location_id,
            "GET",
            "/contacts/search/duplicate",
            retry_safe=True,
            params={"locationId": location_id, "number": phone},
        )
        contact = answer.get("contact")
        return contact if isinstance(contact, dict) else None

    # -- conversations (Version 2021-04-15) ---------------------------------------------------

    async def search_conversation(self, location_id: str, contact_id: str) -> dict[str, Any] | None:
        answer = await self._call(
            location_id,
            "GET",
            "/conversations/search",
            retry_safe=True,
            params={"locationId": location_id, "contactId": contact_id},
        )
        conversations = answer.get("conversations") or []
        first = conversations[0] if conversations else None
        return first if isinstance(first, dict) else None

    async def get_conversation(self, location_id: str, conversation_id: str) -> dict[str, Any]:
        """GET /conversations/{id} (apps/conversations.json `get-conversation`)."""
        return await self._call(
            location_id, "GET", f"/conversations/{conversation_id}", retry_safe=True
        )

    async def create_conversation(self, location_id: str, contact_id: str) -> dict[str, Any]:
        answer = await self._call(
            location_id,
            "POST",
            "/conversations/",
            retry_safe=False,
            json={"locationId": location_id, "contactId": contact_id},
        )
        conversation = answer.get("conversation")
        return conversation if isinstance(conversation, dict) else answer

    async def add_inbound_message(
        self, location_id: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """POST /conversations/messages/inbound. Not retried on a timeout or 5xx: the message may
        have landed, and a repeat would show twice (the job queue decides, with its dedupe)."""
        return await self._call(
            location_id, "POST", "/conversations/messages/inbound", retry_safe=False, json=payload
        )

    async def conversation_messages(
        self,
        location_id: str,
        conversation_id: str,
        *,
        last_message_id: str | None = None,
        limit: int = MESSAGES_PAGE,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a conversation's messages, newest first, and the cursor of the next page
        (None on the last one): GET /conversations/{id}/messages (apps/conversations.json
        `get-messages`: `lastMessageId`, `limit`; answer `GetMessagesByConversationResponseDto`).

        The spec puts `lastMessageId`, `nextPage` and `messages` at the top; GHL really nests
        them under `messages` (highlevel-api-docs issue #54, "Actual result returned a messages
        object"). Both are read."""
        params: dict[str, Any] = {"limit": limit}
        if last_message_id:
            params["lastMessageId"] = last_message_id
        answer = await self._call(
            location_id,
            "GET",
            f"/conversations/{conversation_id}/messages",
            retry_safe=True,
            params=params,
        )
        page = answer.get("messages")
        if isinstance(page, dict):
            answer = page
            page = page.get("messages")
        messages = [m for m in page if isinstance(m, dict)] if isinstance(page, list) else []
        cursor = answer.get("lastMessageId")
        more = answer.get("nextPage") is True and isinstance(cursor, str) and bool(cursor)
        return messages, str(cursor) if more else None

    async def update_message_status(
        self,
        location_id: str,
        message_id: str,
        status: str,
        error: dict[str, Any] | None = None,
    ) -> None:
        body: dict[str, Any] = {"status": status}
        if error is not None:
            body["error"] = error
        # Deferrable: near the end of the daily budget, delivered/read ticks wait; messages go.
        await self._call(
            location_id,
            "PUT",
            f"/conversations/messages/{message_id}/status",
            retry_safe=True,
            json=body,
            deferrable=status in ("delivered", "read"),
        )

    async def upload_attachment(
        self,
        location_id: str,
        *,
        conversation_id: str,
        contact_id: str,
        filename: str,
        data: bytes,
        content_type: str,
    ) -> str:
        """Upload a file for a message; returns its GHL URL. A repeat only leaves an unused copy,
        so it is retried."""
        answer = await self._call(
            location_id,
            "POST",
            "/conversations/messages/upload",
            retry_safe=True,
            data={
                "conversationId": conversation_id,
                "contactId": contact_id,
                "locationId": location_id,
            },
            files={"fileAttachment": (filename, data, content_type)},
        )
        uploaded = answer.get("uploadedFiles")
        urls: list[Any] = []
        if isinstance(uploaded, dict):
            urls = list(uploaded.values())
        elif isinstance(uploaded, list):
            urls = [item.get("url") if isinstance(item, dict) else item for item in uploaded]
        for url in urls:
            if isinstance(url, str) and url:
                return url
        raise GhlApiError(502, "GHL accepted the upload but returned no URL", "bad_response")
