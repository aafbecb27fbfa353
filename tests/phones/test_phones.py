"""Phone numbers and WhatsApp ids, with real numbers of each kind."""

from __future__ import annotations

import pytest

from ghl_app.phones import is_group, is_lid, lookup_variants, to_e164, wa_user_from_wid


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+55 (11) 98765-4321", None, "+5511987654321"),
        ("5511987654321", None, "+5511987654321"),  # a WhatsApp id's digits
        ("11 98765-4321", "BR", "+5511987654321"),
        ("5511987654321", "BR", "+5511987654321"),
        ("551187654321", None, "+551187654321"),  # old 8-digit mobile: kept as given
        ("+1 415-555-2671", None, "+14155552671"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+44 7911 123456", None, "+447911123456"),
        ("5215512345678", None, "+5215512345678"),  # Mexico's old +52 1 mobile spelling
        ("+54 9 11 2345-6789", None, "+5491123456789"),
    ],
)
def test_to_e164_normalises_formatted_national_and_whatsapp_digit_numbers(
    raw: str, region: str | None, expected: str
) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "   ", "abc", "123", "(11) 98765-4321", "+999 1234 5678"])
def test_to_e164_returns_none_for_what_is_not_a_phone_number(raw: str) -> None:
    assert to_e164(raw) is None


@pytest.mark.parametrize(
    ("wid", "expected"),
    [
        ("5511987654321@c.us", "5511987654321"),
        ("5511987654321:12@c.us", "5511987654321"),
        ("551187654321@c.us", "551187654321"),
        ("14155552671@s.whatsapp.net", "14155552671"),
        ("5491123456789.0:3@s.whatsapp.net", "5491123456789"),
    ],
)
def test_wa_user_from_wid_gives_the_digits_of_a_person_id_without_device_suffix(
    wid: str, expected: str
) -> None:
    assert wa_user_from_wid(wid) == expected


@pytest.mark.parametrize(
    "wid",
    [
        "212854739145867@lid",  # a privacy id: its digits are not a phone number
        "212854739145867:5@lid",
        "120363041234567890@g.us",
        "5511987654321-1600000000@g.us",  # an old-style group id that starts like a phone
        "status@broadcast",
        "120363123456789012@newsletter",
        "abc@c.us",
        "5511987654321",
        "",
    ],
)
def test_wa_user_from_wid_never_reads_a_phone_out_of_other_ids(wid: str) -> None:
    assert wa_user_from_wid(wid) is None


def test_group_and_lid_ids_are_recognised_by_their_server() -> None:
    assert is_group("120363041234567890@g.us")
    assert not is_group("5511987654321@c.us")
    assert not is_group("212854739145867@lid")
    assert is_lid("212854739145867@lid")
    assert is_lid("212854739145867:5@lid")
    assert not is_lid("5511987654321@c.us")
    assert not is_lid("120363041234567890@g.us")


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        # Brazil, São Paulo and Belo Horizonte mobiles: 13-digit and the old 12-digit spelling.
        ("+5511987654321", ["+5511987654321", "+551187654321"]),
        ("+551187654321", ["+551187654321", "+5511987654321"]),
        ("+5531987654321", ["+5531987654321", "+553187654321"]),
        # Brazil landline: no 9 was ever added, and adding one would name another line.
        ("+551133334444", ["+551133334444"]),
        # A mobile whose 8-digit form is a valid landline is not that landline.
        ("+5511933334444", ["+5511933334444"]),
        # Mexico City mobile: with and without the old 1.
        ("+525512345678", ["+525512345678", "+5215512345678"]),
        ("+5215512345678", ["+5215512345678", "+525512345678"]),
        # Buenos Aires mobile: with and without the 9.
        ("+5491123456789", ["+5491123456789", "+541123456789"]),
        ("+541123456789", ["+541123456789", "+5491123456789"]),
        # Countries without such quirks: only the number itself.
        ("+14155552671", ["+14155552671"]),
        ("+447911123456", ["+447911123456"]),
    ],
)
def test_lookup_variants_lists_every_spelling_of_the_same_mobile(
    e164: str, expected: list[str]
) -> None:
    assert lookup_variants(e164) == expected


def test_lookup_variants_of_something_that_is_not_a_number_is_empty() -> None:
    assert lookup_variants("212854739145867@lid") == []
    assert lookup_variants("") == []
