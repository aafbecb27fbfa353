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


class ConversationUpdateFake:
    """Mixed into FakeGhl (which provides the guard, `_ok`, `_answer`, `conversations`)."""

    conversation_updates: list[dict[str, Any]]

    def _init_conversation_updates(self) -> None:
        self.conversation_updates = []

    def _conversation_update_routes(self) -> list[Route]:
        return [
            Route("/conversations/{conversation_id}", self._update_conversation, methods=["PUT"])
        ]

    async def _update_conversation(self, request: Request) -> Response:
        guard = self._guard_location  # type: ignore[attr-defined]
        call, grant, failed = await guard(request, in_query=False)
        if failed is not None or grant is None:
            unguarded: Response = failed or self._answer(call, {}, 500)  # type: ignore[attr-defined]
            return unguarded
        conversation_id = request.path_params["conversation_id"]
        conversation = self.conversations.get(conversation_id)  # type: ignore[attr-defined]
        if conversation is None or conversation["locationId"] != grant.location_id:
            body = {"statusCode": 400, "message": "Conversation not found"}
            refused: Response = self._ok(call, body, 400)  # type: ignore[attr-defined]
            return refused
        changes = {k: v for k, v in (call.json or {}).items() if k in ("unreadCount", "starred")}
        if "unreadCount" in changes and not isinstance(changes["unreadCount"], int | float):
            body = {"statusCode": 422, "message": ["unreadCount must be a number"]}
            invalid: Response = self._ok(call, body, 422)  # type: ignore[attr-defined]
            return invalid
        conversation.update(changes)
        self.conversation_updates.append({"id": conversation_id, **changes})
        answer: Response = self._ok(call, {"success": True, "conversation": conversation})  # type: ignore[attr-defined]
        return answer
