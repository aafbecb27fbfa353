"""The fake GHL's `PUT /conversations/{conversationId}` (apps/conversations.json
`update-conversation`, Version 2021-04-15, scope conversations.write): the body is
UpdateConversationDto `{locationId (required), unreadCount?, starred?, feedback?}`; the answer
GetConversationSuccessfulResponse `{success, conversation}`. A conversation of another location
answers like a missing one (the 400 "Conversation not found" the fake's GET gives). Each
update is kept in `conversation_updates` for the tests (issue 16, read sync)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghl_app.demo.fake_ghl_guard import GuardedFake


class ConversationUpdateFake(GuardedFake):
    """Mixed into FakeGhl (which provides the guard, `_ok`, `_answer`, `conversations`)."""

    conversation_updates: list[dict[str, Any]]
    conversations: dict[str, dict[str, Any]]  # FakeGhl's

    def _init_conversation_updates(self) -> None:
        self.conversation_updates = []

    def _conversation_update_routes(self) -> list[Route]:
        return [
            Route("/conversations/{conversation_id}", self._update_conversation, methods=["PUT"])
        ]

    async def _update_conversation(self, request: Request) -> Response:
        call, grant, failed = await self._guard_location(request, in_query=False)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        conversation_id = request.path_params["conversation_id"]
        conversation = self.conversations.get(conversation_id)
        if conversation is None or conversation["locationId"] != grant.location_id:
            body = {"statusCode": 400, "message": "Conversation not found"}
            return self._ok(call, body, 400)
        changes = {k: v for k, v in (call.json or {}).items() if k in ("unreadCount", "starred")}
        if "unreadCount" in changes and not isinstance(changes["unreadCount"], int | float):
            body = {"statusCode": 422, "message": ["unreadCount must be a number"]}
            return self._ok(call, body, 422)
        conversation.update(changes)
        self.conversation_updates.append({"id": conversation_id, **changes})
        return self._ok(call, {"success": True, "conversation": conversation})
