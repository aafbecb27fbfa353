"""The fake GHL held to GHL's own models (issue 13, item 8): every request body our client sends
it, and every answer it gives, is validated against the official SDK's pydantic models (PyPI
`gohighlevel-api-client`, a dev dependency). A body that does not validate is recorded on the
fake, and `run_fake_ghl` fails the test with the list.

Where the SDK's model and GHL's docs disagree, the disagreement is noted here and both are
satisfied where both can be:

- `ProcessMessageBodyDto.direction` is a dict in the SDK; the spec (apps/conversations.json) and
  the "Add an inbound message" page make it the string "inbound" / "outbound", which is what GHL
  takes. Validated as the spec's enum.
- `ProcessMessageBodyDto.conversationProviderId` is required in the SDK; ConversationProviders.md
  requires it for a custom ("extra") provider only, and the default SMS replacement posts
  without one. Optional here only when the body says it is not for a custom provider (no key).
- `ProcessMessageBodyDto.conversationId` is required in the SDK and the spec; the marketplace's
  "Add an inbound message" page says "Either conversationId or contactId is required". The
  bridge posts a new contact's text with the contact alone and names the conversation for good
  once GHL refuses that (the fake offers both); optional here, the contact then required.
- `GetMessagesByConversationResponseDto` is what GHL nests under `messages` (issue #54): the
  inner object is validated when the answer is nested.
- `UploadFilesDto` requires `attachmentUrls`, a multipart upload carries a file instead (the
  spec's own example does): multipart requests are not validated, their answers are.
- The SDK's token models are camelCase (`accessToken`); the spec and GHL answer snake_case
  (`access_token`). Validated against the SDK (whose required field, `userId`, both carry).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from highlevel.services.contacts.models import contacts as contact_models
from highlevel.services.conversations.models import conversations as conversation_models
from highlevel.services.oauth.models import oauth as oauth_models
from pydantic import BaseModel, ValidationError


class _InboundBody(conversation_models.ProcessMessageBodyDto):
    direction: Literal["inbound", "outbound"] | None = None  # type: ignore[assignment]
    conversationProviderId: str | None = None  # type: ignore[assignment]
    conversationId: str | None = None  # type: ignore[assignment]


def _nested_listing(body: Any) -> Any:
    inner = body.get("messages") if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else body


Model = type[BaseModel]
# (method, path pattern, request model, response model, how to find the validated part)
_RULES: list[tuple[str, re.Pattern[str], Model | None, Model | None, Callable[[Any], Any]]] = []


def _rule(
    method: str,
    pattern: str,
    request: Model | None,
    response: Model | None,
    unwrap: Callable[[Any], Any] = lambda body: body,
) -> None:
    _RULES.append((method, re.compile(f"^{pattern}$"), request, response, unwrap))


_rule("POST", r"/conversations/messages/inbound", _InboundBody, None)
_rule(
    "PUT", r"/conversations/messages/[^/]+/status", conversation_models.UpdateMessageStatusDto, None
)
_rule(
    "GET",
    r"/conversations/(?!search$)[^/]+/messages",
    None,
    conversation_models.GetMessagesByConversationResponseDto,
    _nested_listing,
)
_rule("GET", r"/conversations/search", None, conversation_models.SendConversationResponseDto)
_rule(
    "POST",
    r"/conversations/",
    conversation_models.CreateConversationDto,
    conversation_models.CreateConversationSuccessResponse,
)
_rule(
    "GET",
    r"/conversations/(?!search$)[^/]+",
    None,
    conversation_models.GetConversationByIdResponse,
)
_rule("POST", r"/conversations/messages/upload", None, conversation_models.UploadFilesResponseDto)
_rule(
    "POST",
    r"/contacts/upsert",
    contact_models.UpsertContactDtoV3,
    contact_models.UpsertContactsSuccessfulResponseDtoV3,
)
_rule(
    "POST",
    r"/contacts/[^/]+/tags",
    contact_models.TagsDTO,
    contact_models.CreateAddTagSuccessfulResponseDto,
)
_rule(
    "POST",
    r"/contacts/",
    contact_models.CreateContactDtoV3,
    contact_models.CreateContactsSuccessfulResponseDtoV3,
)
_rule(
    "PUT",
    r"/contacts/[^/]+",
    contact_models.UpdateContactDtoV3,
    contact_models.UpdateContactsSuccessfulResponseDtoV3,
)
_rule("GET", r"/contacts/(?!search)[^/]+", None, contact_models.ContactsByIdSuccessfulResponseDtoV3)
_rule("POST", r"/oauth/token", None, oauth_models.GetAccessTokenSuccessfulResponseDto)
_rule(
    "POST",
    r"/oauth/locationToken",
    oauth_models.GetLocationAccessCodeBodyDto,
    oauth_models.GetLocationAccessTokenSuccessfulResponseDto,
)
_rule(
    "GET",
    r"/oauth/installedLocations",
    None,
    oauth_models.GetInstalledLocationsSuccessfulResponseDto,
)


def _find(method: str, path: str) -> tuple[Model | None, Model | None, Callable[[Any], Any]]:
    for rule_method, pattern, request, response, unwrap in _RULES:
        if rule_method == method and pattern.match(path):
            return request, response, unwrap
    return None, None, lambda body: body


def _problem(model: Model, body: Any) -> str | None:
    try:
        model.model_validate(body)
    except ValidationError as exc:
        return f"{model.__name__}: {exc.errors(include_url=False)}"
    return None


def request_problem(method: str, path: str, body: Any) -> str | None:
    """Why a JSON or form request body is not what GHL's model takes (None: it is)."""
    model, _, _ = _find(method, path)
    return None if model is None or body is None else _problem(model, body)


def response_problem(method: str, path: str, status: int, body: Any) -> str | None:
    """Why a 2xx answer is not what GHL's model describes (None: it is)."""
    _, model, unwrap = _find(method, path)
    if model is None or not 200 <= status < 300:
        return None
    return _problem(model, unwrap(body))
