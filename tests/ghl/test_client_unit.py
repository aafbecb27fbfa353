"""The API client and transport in isolation (respx): Version headers, the retry policy, the
typed error, the 401 refresh."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from ghl_app.demo.ghl_models import request_problem
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import GhlApiError, GhlHttp

BASE = "https://ghl.test"


class StubTokens:
    """Stands in for TokenManager: hands out tok-1, and tok-2 after a refresh."""

    def __init__(self) -> None:
        self.refreshed_after: list[str | None] = []

    async def location_token(self, location_id: str) -> str:
        return "tok-1"

    async def refresh_location(self, location_id: str, *, stale: str | None = None) -> str:
        self.refreshed_after.append(stale)
        return "tok-2"


@pytest.fixture
async def http() -> AsyncIterator[GhlHttp]:
    transport = GhlHttp(BASE, max_attempts=3, backoff_base=0.01)
    try:
        yield transport
    finally:
        await transport.aclose()


@pytest.fixture
def tokens() -> StubTokens:
    return StubTokens()


@pytest.fixture
def client(http: GhlHttp, tokens: StubTokens) -> GhlClient:
    return GhlClient(http, tokens)  # type: ignore[arg-type]


@respx.mock(base_url=BASE, assert_all_called=True)
async def test_each_call_sends_the_version_its_path_wants(
    respx_mock: respx.MockRouter, client: GhlClient
) -> None:
    upsert = respx_mock.post("/contacts/upsert").respond(200, json={"contact": {"id": "c1"}})
    dup = respx_mock.get("/contacts/search/duplicate").respond(200, json={"contact": None})
    new = respx_mock.post("/contacts/").respond(201, json={"contact": {"id": "g1"}})
    rename = respx_mock.put("/contacts/g1").respond(200, json={"succeded": True})
    search = respx_mock.get("/conversations/search").respond(200, json={"conversations": []})
    create = respx_mock.post("/conversations/").respond(201, json={"conversation": {"id": "v1"}})
    inbound = respx_mock.post("/conversations/messages/inbound").respond(
        200, json={"messageId": "m1"}
    )
    status = respx_mock.put("/conversations/messages/m1/status").respond(200, json={})
    upload = respx_mock.post("/conversations/messages/upload").respond(
        200, json={"uploadedFiles": {"a.jpg": "https://cdn/a.jpg"}}
    )
    tags = respx_mock.post("/contacts/c1/tags").respond(201, json={"tags": ["x", "wa"]})
    listing = respx_mock.get("/conversations/v1/messages").respond(
        200,
        json={"messages": {"lastMessageId": "m0", "nextPage": True, "messages": [{"id": "m0"}]}},
    )
    assert await client.upsert_contact("L", phone="+1", name="Ana") == {"id": "c1"}
    await client.add_tags("L", "c1", ["wa"])
    assert await client.conversation_messages("L", "v1") == ([{"id": "m0"}], "m0")
    assert await client.find_contact_by_phone("L", "+1") is None
    assert await client.create_contact("L", name="Vendas", tags=["g"]) == {"id": "g1"}
    await client.rename_contact("L", "g1", "Vendas SP")
    assert await client.search_conversation("L", "c1") is None
    assert (await client.create_conversation("L", "c1"))["id"] == "v1"
    assert (await client.add_inbound_message("L", {"type": "SMS"}))["messageId"] == "m1"
    await client.update_message_status("L", "m1", "delivered")
    url = await client.upload_attachment(
        "L",
        conversation_id="v1",
        contact_id="c1",
        filename="a.jpg",
        data=b"\xff",
        content_type="image/jpeg",
    )
    assert url == "https://cdn/a.jpg"
    for route, version in [
        (upsert, "2021-07-28"),
        (dup, "2021-07-28"),
        (new, "2021-07-28"),
        (rename, "2021-07-28"),
        (search, "2021-04-15"),
        (create, "2021-04-15"),
        (inbound, "2021-04-15"),
        (status, "2021-04-15"),
        (upload, "2021-04-15"),
        (tags, "2021-07-28"),
        (listing, "2021-04-15"),
    ]:
        request = route.calls.last.request
        assert request.headers["Version"] == version
        assert request.headers["Authorization"] == "Bearer tok-1"
    assert json.loads(new.calls.last.request.content) == {
        "locationId": "L",
        "name": "Vendas",
        "tags": ["g"],
    }
    assert json.loads(rename.calls.last.request.content) == {"name": "Vendas SP"}
    assert json.loads(upsert.calls.last.request.content) == {
        "locationId": "L",
        "phone": "+1",
        "name": "Ana",
    }  # never tags: an upsert's tags replace the contact's own
    assert json.loads(tags.calls.last.request.content) == {"tags": ["wa"]}
    # Every JSON body the client sent is what GHL's own models (the SDK's) take.
    for route in (upsert, new, rename, tags, create):
        request = route.calls.last.request
        problem = request_problem(request.method, request.url.path, json.loads(request.content))
        assert problem is None, problem
    multipart = upload.calls.last.request
    assert b'name="fileAttachment"; filename="a.jpg"' in multipart.content
    assert b'name="conversationId"' in multipart.content
    assert dup.calls.last.request.url.params["number"] == "+1"


@respx.mock(base_url=BASE)
async def test_safe_calls_are_retried_on_5xx_and_timeouts(
    respx_mock: respx.MockRouter, client: GhlClient
) -> None:
    route = respx_mock.get("/contacts/search/duplicate").mock(
        side_effect=[
            httpx.Response(502),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json={"contact": {"id": "c1"}}),
        ]
    )
    assert await client.find_contact_by_phone("L", "+1") == {"id": "c1"}
    assert route.call_count == 3


@respx.mock(base_url=BASE)
async def test_message_create_is_not_retried_on_5xx_or_timeout(
    respx_mock: respx.MockRouter, client: GhlClient
) -> None:
    route = respx_mock.post("/conversations/messages/inbound").mock(
        side_effect=[httpx.Response(500, json={"message": "boom"}), httpx.ReadTimeout("slow")]
    )
    with pytest.raises(GhlApiError) as first:
        await client.add_inbound_message("L", {"type": "SMS"})
    assert (first.value.status, first.value.message, first.value.retryable) == (500, "boom", True)
    with pytest.raises(GhlApiError) as second:
        await client.add_inbound_message("L", {"type": "SMS"})
    assert (second.value.status, second.value.code) == (0, "timeout")
    assert route.call_count == 2


@respx.mock(base_url=BASE)
async def test_message_create_is_retried_after_429_because_ghl_did_not_process_it(
    respx_mock: respx.MockRouter, client: GhlClient
) -> None:
    route = respx_mock.post("/conversations/messages/inbound").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0.01"}),
            httpx.Response(200, json={"messageId": "m1"}),
        ]
    )
    assert (await client.add_inbound_message("L", {}))["messageId"] == "m1"
    assert route.call_count == 2


@respx.mock(base_url=BASE)
async def test_connection_refused_is_retried_even_for_a_create(
    respx_mock: respx.MockRouter, client: GhlClient
) -> None:
    route = respx_mock.post("/conversations/").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"conversation": {}})]
    )
    await client.create_conversation("L", "c1")
    assert route.call_count == 2


@respx.mock(base_url=BASE)
async def test_retries_stop_after_max_attempts_with_the_last_error(
    respx_mock: respx.MockRouter, client: GhlClient
) -> None:
    route = respx_mock.put("/conversations/messages/m1/status").respond(
        429, headers={"Retry-After": "0.01"}
    )
    with pytest.raises(GhlApiError) as caught:
        await client.update_message_status("L", "m1", "read")
    assert (caught.value.status, caught.value.retry_after) == (429, 0.01)
    assert route.call_count == 3


@respx.mock(base_url=BASE)
async def test_ghl_errors_surface_as_one_typed_exception_with_status_message_code(
    respx_mock: respx.MockRouter, client: GhlClient, http: GhlHttp
) -> None:
    respx_mock.post("/contacts/upsert").respond(
        422,
        json={
            "statusCode": 422,
            "message": ["phone must be valid"],
            "error": "Unprocessable Entity",
        },
    )
    with pytest.raises(GhlApiError) as caught:
        await client.upsert_contact("L", phone="nope")
    assert (caught.value.status, caught.value.message, caught.value.code) == (
        422,
        "phone must be valid",
        None,
    )
    assert not caught.value.retryable
    respx_mock.post("/oauth/token").respond(
        400, json={"error": "invalid_grant", "error_description": "Invalid refresh token"}
    )
    with pytest.raises(GhlApiError) as oauth:
        await http.request(
            "POST", "/oauth/token", limit_key=None, bearer=None, retry_safe=False, data={"a": "b"}
        )
    assert (oauth.value.status, oauth.value.code) == (400, "invalid_grant")
    sent = respx_mock.calls.last.request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in sent.headers


@respx.mock(base_url=BASE)
async def test_a_401_refreshes_the_token_once_and_resends(
    respx_mock: respx.MockRouter, client: GhlClient, tokens: StubTokens
) -> None:
    route = respx_mock.get("/conversations/search").mock(
        side_effect=[
            httpx.Response(401, json={"message": "Invalid JWT"}),
            httpx.Response(200, json={"conversations": [{"id": "v1"}]}),
        ]
    )
    assert await client.search_conversation("L", "c1") == {"id": "v1"}
    assert tokens.refreshed_after == ["tok-1"]
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok-2"


@respx.mock(base_url=BASE)
async def test_a_second_401_after_refresh_is_raised_not_looped(
    respx_mock: respx.MockRouter, client: GhlClient, tokens: StubTokens
) -> None:
    route = respx_mock.get("/conversations/search").respond(401, json={"message": "Invalid JWT"})
    with pytest.raises(GhlApiError) as caught:
        await client.search_conversation("L", "c1")
    assert caught.value.status == 401
    assert route.call_count == 2 and tokens.refreshed_after == ["tok-1"]


@respx.mock(assert_all_called=True)
async def test_no_cookie_ghl_sets_is_kept_or_sent_back(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get("https://ghl.test/contacts/search/duplicate").mock(
        side_effect=[
            httpx.Response(200, json={}, headers={"Set-Cookie": "session=abc; Path=/"}),
            httpx.Response(200, json={}),
        ]
    )
    http = GhlHttp(BASE, max_attempts=1)
    try:
        for _ in range(2):
            await http.request(
                "GET", "/contacts/search/duplicate", limit_key=None, bearer="t", retry_safe=True
            )
    finally:
        await http.aclose()
    assert "cookie" not in route.calls[1].request.headers


@respx.mock(assert_all_called=True)
async def test_a_base_url_with_a_path_keeps_it_as_the_prefix(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("https://proxy.test/ghl/conversations/messages/inbound").respond(
        200, json={"messageId": "m1"}
    )
    http = GhlHttp("https://proxy.test/ghl/", max_attempts=1)
    try:
        answer = await http.request(
            "POST",
            "/conversations/messages/inbound",
            limit_key=None,
            bearer="t",
            retry_safe=False,
            json={"type": "SMS"},
        )
    finally:
        await http.aclose()
    assert answer == {"messageId": "m1"} and route.called
    assert route.calls[0].request.headers["version"] == "2021-04-15"
