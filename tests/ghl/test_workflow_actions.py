"""Parsing GHL's action execution body and keying a call so that a repeat sends once."""

from __future__ import annotations

import uuid

import pytest

from ghl_app.demo.fake_ghl_workflows import workflow_call
from ghl_app.errors import AppError
from ghl_app.ghl.workflow_actions import DEDUPE_WINDOW_S, check_token, parse


def test_execution_id_when_ghl_sends_one_is_the_key() -> None:
    body = workflow_call("loc", "c1", message="hi", extras={"executionId": "e-1"})
    assert parse(body).execution_keys == ("loc:executionId:e-1",)


def test_without_an_execution_id_a_repeat_within_the_window_has_a_shared_key() -> None:
    body = workflow_call("loc", "c1", message="hi")
    start = 1_000 * DEDUPE_WINDOW_S + DEDUPE_WINDOW_S - 1  # one second before a boundary
    first = parse(body, now=start).execution_keys
    repeat = parse(body, now=start + 2).execution_keys  # just past the boundary
    assert first[0] in repeat
    next_week = parse(body, now=start + 7 * 86400).execution_keys
    assert not set(first) & set(next_week)
    other_text = parse(workflow_call("loc", "c1", message="hello"), now=start).execution_keys
    assert not set(first) & set(other_text)


@pytest.mark.parametrize(
    ("attachment", "expected"),
    [
        ("https://x.test/a.pdf", ("https://x.test/a.pdf",)),
        (
            ["https://x.test/a.pdf", "https://x.test/b.png"],
            ("https://x.test/a.pdf", "https://x.test/b.png"),
        ),
        ([{"url": "https://x.test/a.pdf"}], ("https://x.test/a.pdf",)),
        ("", ()),
    ],
)
def test_attachment_field_in_each_shape_ghl_may_send(
    attachment: object, expected: tuple[str, ...]
) -> None:
    body = workflow_call("loc", "c1", message="hi", attachment=attachment)
    assert parse(body).attachments == expected


def test_from_number_auto_or_an_instance_id() -> None:
    assert parse(workflow_call("loc", "c1", message="x", from_number="auto")).instance_id is None
    chosen = uuid.uuid4()
    assert (
        parse(workflow_call("loc", "c1", message="x", from_number=str(chosen))).instance_id
        == chosen
    )


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"data": {}, "extras": {"locationId": "loc"}},
        workflow_call("loc", "c1", message=""),
        workflow_call("loc", "c1", message="x" * 5000),
        workflow_call("loc", "c1", message="x", attachment="javascript:alert(1)"),
        workflow_call("loc", "c1", message="x", attachment=["https://x.test/a"] * 11),
        workflow_call("loc", "c1", message={"nested": True}),  # type: ignore[arg-type]
    ],
)
def test_bad_bodies_are_4xx_with_a_code(body: object) -> None:
    with pytest.raises(AppError) as caught:
        parse(body)
    assert 400 <= caught.value.status < 500 and caught.value.code


def test_token_is_required_and_compared() -> None:
    with pytest.raises(AppError) as off:
        check_token("", "Bearer anything")
    assert off.value.status == 503
    with pytest.raises(AppError) as wrong:
        check_token("secret", "Bearer sécret")  # non-ASCII: refused, not a 500
    assert wrong.value.status == 401
    check_token("secret", "Bearer secret")
