"""The fake GHL's side of marketplace workflows and of contacts read by id.

- `GET /contacts/{id}` answers `{"contact": {...}}` (apps/contacts.json `get-contact`, Version
  2021-07-28, scope contacts.readonly), only for the token's own location (else 400 "Contact
  not found", the shape the fake's PUT uses too).
- `POST /workflows-marketplace/triggers/execute/{location}/{trigger}` is where an app fires a
  trigger: the targetUrl GHL hands over on subscription (CustomTriggers doc; the path shape is
  GHL's marketplace CLI example `.../triggers/execute/location-id/workflow-trigger-id`). An
  unauthenticated fire gets 401 (seen in practice: ScaleSafe's changelog, see
  docs/ghl-workflows.md); a fire at a deleted trigger gets 400 "trigger with id: … inactive"
  (the message ScaleSafe matches). What GHL answers to a good fire is undocumented: 200 `{}`.
- `workflow_call(...)` builds GHL's action execution body `{data, extras, meta}` (CustomActions
  doc sample payload) and `subscription(...)` the Subscription URL body (CustomTriggers doc).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghl_app.demo.fake_ghl_guard import GuardedFake

ACTION_KEY = "send_whatsapp_message"


class WorkflowFake(GuardedFake):
    """Mixed into FakeGhl (which provides the guard, `_ok`, `_answer`, `contacts`, `url`)."""

    trigger_fires: list[dict[str, Any]]
    contacts: dict[str, dict[str, Any]]  # FakeGhl's
    inactive_triggers: set[str]

    def _init_workflows(self) -> None:
        self.trigger_fires = []
        self.inactive_triggers = set()

    def _workflow_routes(self) -> list[Route]:
        return [
            Route("/contacts/{contact_id}", self._get_contact, methods=["GET"]),
            Route(
                "/workflows-marketplace/triggers/execute/{location_id}/{trigger_id}",
                self._execute_trigger,
                methods=["POST"],
            ),
        ]

    def target_url(self, location_id: str, trigger_id: str) -> str:
        url: str = self.url
        return f"{url}/workflows-marketplace/triggers/execute/{location_id}/{trigger_id}"

    def fires_for(self, trigger_id: str) -> list[dict[str, Any]]:
        return [f["event"] for f in self.trigger_fires if f["trigger_id"] == trigger_id]

    async def _get_contact(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        contact = self.contacts.get(request.path_params["contact_id"])
        if contact is None or contact.get("locationId") != grant.location_id:
            body = {"statusCode": 400, "message": "Contact not found"}
            return self._ok(call, body, 400)
        return self._ok(call, {"contact": contact})

    async def _execute_trigger(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        location_id = request.path_params["location_id"]
        trigger_id = request.path_params["trigger_id"]
        if grant.location_id != location_id:
            body = {"statusCode": 403, "message": "token not for location"}
            return self._ok(call, body, 403)
        if trigger_id in self.inactive_triggers:
            body = {"statusCode": 400, "message": f"trigger with id: {trigger_id} inactive"}
            return self._ok(call, body, 400)
        self.trigger_fires.append(
            {"location_id": location_id, "trigger_id": trigger_id, "event": call.json}
        )
        return self._ok(call, {})


def workflow_call(
    location_id: str,
    contact_id: str,
    *,
    message: str = "",
    attachment: Any = None,
    from_number: str | None = None,
    workflow_id: str = "wf-1",
    extras: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body GHL posts to an action's URL (CustomActions "Action Execution" sample)."""
    data: dict[str, Any] = {"message": message}
    if attachment is not None:
        data["attachment"] = attachment
    if from_number is not None:
        data["from_number"] = from_number
    return {
        "data": data,
        "extras": {
            "locationId": location_id,
            "contactId": contact_id,
            "workflowId": workflow_id,
            **(extras or {}),
        },
        "meta": {"key": ACTION_KEY, "version": "1.0"},
    }


def subscription(
    location_id: str,
    trigger_id: str,
    key: str,
    target_url: str,
    *,
    event_type: str = "CREATED",
    filters: list[dict[str, Any]] | None = None,
    workflow_id: str = "wf-1",
) -> dict[str, Any]:
    """The body GHL posts to a trigger's Subscription URL (CustomTriggers doc)."""
    return {
        "triggerData": {
            "id": trigger_id,
            "key": key,
            "filters": filters or [],
            "eventType": event_type,
            "targetUrl": target_url,
        },
        "meta": {"key": key, "version": "1.0"},
        "extras": {"locationId": location_id, "workflowId": workflow_id, "companyId": "co"},
    }
