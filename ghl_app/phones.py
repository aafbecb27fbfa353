"""Phone numbers and WhatsApp chat ids, through the `phonenumbers` library (no regexes).

WhatsApp ids (whatsapp-web.md, "Ids, phones and contacts"):
- `<digits>@c.us` is a person by phone number (`@s.whatsapp.net` in the multi-device protocol);
  a `:NN` device suffix may follow the digits.
- `<id>@g.us` is a group, `<opaque>@lid` a privacy id: its digits are NOT a phone number and are
  never parsed as one.

Several countries have two spellings of one mobile number, and WhatsApp, GHL and the user may
each hold a different one, so a contact is looked up by every spelling before one is created:
- Brazil: mobiles gained a leading 9 (+55 AA 9XXXX-XXXX); WhatsApp still knows many by the old
  8-digit form (+55 AA XXXX-XXXX).
- Mexico: mobiles used to be dialled +52 1 + 10 digits; since 2019 +52 + 10 digits. WhatsApp ids
  often keep the 1.
- Argentina: mobiles are +54 9 + area + number internationally, but are often stored without 9.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

_PERSON_SERVERS = ("c.us", "s.whatsapp.net")
_GROUP_SERVER = "g.us"
_LID_SERVER = "lid"

_BRAZIL, _MEXICO, _ARGENTINA = 55, 52, 54
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _server(chat_id: str) -> str:
    _, at, server = chat_id.rpartition("@")
    return server.lower() if at else ""


def is_group(chat_id: str) -> bool:
    return _server(chat_id) == _GROUP_SERVER


def is_lid(chat_id: str) -> bool:
    return _server(chat_id) == _LID_SERVER


def wa_user_from_wid(wid: str) -> str | None:
    """The phone digits of a person's WhatsApp id (`5511987654321:12@c.us` -> `5511987654321`).

    None for groups, LIDs, broadcasts, newsletters and anything else: a LID's digits are an
    opaque id, and treating them as a phone number files the message under a stranger.
    """
    user, at, server = wid.strip().rpartition("@")
    if not at or server.lower() not in _PERSON_SERVERS:
        return None
    # `user[.agent][:device]`: only the part before both is the phone number.
    digits = user.split(":", 1)[0].split(".", 1)[0]
    if not digits.isascii() or not digits.isdigit():
        return None
    return digits


def _parse(raw: str, default_region: str | None) -> PhoneNumber | None:
    text = raw.strip()
    if not text:
        return None
    attempts = [(text, default_region)]
    if text.isascii() and text.isdigit():
        # A WhatsApp id's digits, or a number stored without its plus: international digits.
        attempts.append(("+" + text, None))
    for candidate, region in attempts:
        try:
            return phonenumbers.parse(candidate, region)
        except NumberParseException:
            continue
    return None


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _with_national(number: PhoneNumber, national: str) -> PhoneNumber:
    return PhoneNumber(country_code=number.country_code, national_number=int(national))


def _alternates(number: PhoneNumber) -> list[PhoneNumber]:
    """The other spelling(s) of the same subscriber, per the country quirks above."""
    national = phonenumbers.national_significant_number(number)
    code = number.country_code
    if code == _BRAZIL:
        return _brazil_alternates(number, national)
    if code == _MEXICO:
        if len(national) == 11 and national.startswith("1"):
            return [_with_national(number, national[1:])]
        if len(national) == 10 and phonenumbers.number_type(number) in _MOBILE_TYPES:
            return [_with_national(number, "1" + national)]
    if code == _ARGENTINA:
        if len(national) == 11 and national.startswith("9"):
            return [_with_national(number, national[1:])]
        if len(national) == 10:
            with_nine = _with_national(number, "9" + national)
            if phonenumbers.number_type(with_nine) == PhoneNumberType.MOBILE:
                return [with_nine]
    return []


def _brazil_alternates(number: PhoneNumber, national: str) -> list[PhoneNumber]:
    # The 9 was prepended to existing mobiles, so the 8-digit spelling of a 9-digit mobile is the
    # same line only when that 8-digit number is not itself a valid (landline) number, and the
    # other way round. The library's metadata decides which is which, not our guess.
    area, subscriber = national[:2], national[2:]
    if len(subscriber) == 9 and subscriber.startswith("9"):
        if phonenumbers.number_type(number) != PhoneNumberType.MOBILE:
            return []
        old = _with_national(number, area + subscriber[1:])
        return [] if phonenumbers.is_valid_number(old) else [old]
    if len(subscriber) == 8 and not phonenumbers.is_valid_number(number):
        new = _with_national(number, area + "9" + subscriber)
        if phonenumbers.number_type(new) == PhoneNumberType.MOBILE:
            return [new]
    return []


def to_e164(raw: str, default_region: str | None = None) -> str | None:
    """`raw` in E.164 (`+5511987654321`), or None when it is not a phone number.

    Accepts a formatted number, international digits (a WhatsApp id's), or a national number with
    `default_region` (ISO code, e.g. "BR"). The number keeps the spelling it was given: an old
    8-digit Brazilian mobile stays 8-digit (WhatsApp may know it only that way).
    """
    number = _parse(raw, default_region)
    if number is None:
        return None
    if phonenumbers.is_possible_number(number) or any(
        phonenumbers.is_possible_number(alternate) for alternate in _alternates(number)
    ):
        return _e164(number)
    return None


def lookup_variants(e164: str) -> list[str]:
    """Every spelling to search a GHL contact by before creating one: the number itself first,
    then its other form(s) (Brazil 12/13 digits, Mexico +52 1 / +52, Argentina +54 9 / +54).
    Empty when `e164` is not a phone number."""
    normalized = to_e164(e164)
    if normalized is None:
        return []
    number = phonenumbers.parse(normalized, None)
    variants = [normalized]
    for alternate in _alternates(number):
        spelled = _e164(alternate)
        if spelled not in variants:
            variants.append(spelled)
    return variants
