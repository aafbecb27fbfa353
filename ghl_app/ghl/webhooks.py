"""GHL webhooks: signature verification (shared with the provider Delivery URL) and the app
events INSTALL / UNINSTALL.

Verification is over the raw body, Ed25519 (`X-GHL-Signature`) first and the legacy RSA-SHA256
(`X-WH-Signature`) as fallback (ghl-api.md "Webhooks"). A missing header is a rejection, never a
skip: skipping makes the endpoint open. Each verified event is stored once under its
`webhookId` in the same transaction as its effect, so a replay is answered 401 and does nothing,
and a failure to persist answers 429, the one status GHL retries.

GHL retries a 429 "up to six times", "10 minutes after the previous attempt" plus jitter, with
"the same payload" (help article 155000007071, Automated Webhook Retries), so the same
`timestamp`: a webhook is accepted up to `RETRY_WINDOW` old. Replays within that window are
refused by `webhookId`, and the receipts are kept for good (never swept), far longer.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ghl_app.errors import ConfigError
from ghl_app.ghl.installs import InstallService
from ghl_app.models import Contact, WebhookReceipt
from ghl_app.settings import Settings

log = logging.getLogger(__name__)

# GHL's last retry comes about 60 minutes (six retries 10 minutes apart, plus jitter) after the
# first delivery; a timestamp further in the future than clock skew explains is refused.
RETRY_WINDOW = timedelta(minutes=75)
MAX_SKEW = timedelta(minutes=5)
APP_EVENTS = ("INSTALL", "UNINSTALL")
CONTACT_EVENTS = ("ContactDelete", "ContactDndUpdate")
READ_EVENT = "ConversationUnreadUpdate"
ReadHook = Callable[[str, str, str], Awaitable[None]]

# The session manager's `stop_location`: sync or async, the handler accepts either.
UninstallHook = Callable[[str], Awaitable[None] | None]


class WebhookRejected(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _key_bytes(text: str) -> bytes:
    return base64.b64decode("".join(text.split()), validate=True)


def load_ed25519_key(text: str) -> Ed25519PublicKey | None:
    """PEM, base64 DER (SubjectPublicKeyInfo) or base64 of the raw 32 bytes; empty = none."""
    text = text.replace("\\n", "\n").strip()  # PEMs pasted into one-line env values
    if not text:
        return None
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
    else:
        raw = _key_bytes(text)
        if len(raw) == 32:
            return Ed25519PublicKey.from_public_bytes(raw)
        key = serialization.load_der_public_key(raw)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("GHL_WEBHOOK_ED25519_KEY is not an Ed25519 public key")
    return key


def load_rsa_key(text: str) -> RSAPublicKey | None:
    text = text.replace("\\n", "\n").strip()  # PEMs pasted into one-line env values
    if not text:
        return None
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
    else:
        key = serialization.load_der_public_key(_key_bytes(text))
    if not isinstance(key, RSAPublicKey):
        raise ValueError("GHL_WEBHOOK_RSA_KEY is not an RSA public key")
    return key


def _signature(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


class WebhookVerifier:
    """Checks GHL's signature over a raw body. The provider Delivery URL reuses it."""

    def __init__(self, ed25519_key: str, rsa_key: str) -> None:
        self._ed25519 = load_ed25519_key(ed25519_key)
        self._rsa = load_rsa_key(rsa_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookVerifier:
        try:
            ed25519 = load_ed25519_key(settings.ghl_webhook_ed25519_key)
        except (ValueError, binascii.Error):
            raise ConfigError(
                "GHL_WEBHOOK_ED25519_KEY is not an Ed25519 public key: use the PEM or base64 key "
                "from the app's settings in the GHL marketplace"
            ) from None
        try:
            rsa = load_rsa_key(settings.ghl_webhook_rsa_key)
        except (ValueError, binascii.Error):
            raise ConfigError(
                "GHL_WEBHOOK_RSA_KEY is not an RSA public key: use GHL's published PEM key"
            ) from None
        verifier = cls("", "")
        verifier._ed25519, verifier._rsa = ed25519, rsa
        return verifier

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> str:
        """Return which signature matched ("ed25519" or "rsa"); raise `WebhookRejected` (401)."""
        ed_header = headers.get("x-ghl-signature")
        rsa_header = headers.get("x-wh-signature")
        if not ed_header and not rsa_header:
            raise WebhookRejected(401, "unsigned", "the webhook carries no signature")
        if ed_header and self._ed25519 is not None:
            signature = _signature(ed_header)
            if signature is not None:
                try:
                    self._ed25519.verify(signature, raw_body)
                    return "ed25519"
                except InvalidSignature:
                    pass
        if rsa_header and self._rsa is not None:
            signature = _signature(rsa_header)
            if signature is not None:
                try:
                    self._rsa.verify(signature, raw_body, padding.PKCS1v15(), hashes.SHA256())
                    return "rsa"
                except InvalidSignature:
                    pass
        raise WebhookRejected(401, "bad_signature", "the webhook signature does not verify")


def parse_timestamp(value: object) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > 1e14:  # NaN, infinity, past year 5000 (ms)
            return None
        seconds = value / 1000 if value > 1e11 else value  # milliseconds or seconds
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def whatsapp_dnd(payload: Mapping[str, Any]) -> bool:
    """Whether a ContactDndUpdate (docs/webhook events/ContactDndUpdate.md) stops our sends:
    the contact's WhatsApp or SMS channel (we are an SMS-type provider) is "active" in
    `dndSettings`; without `dndSettings`, `dnd: true` (every channel)."""
    settings = payload.get("dndSettings")
    if isinstance(settings, dict) and settings:
        return any(
            isinstance(channel := settings.get(name), dict) and channel.get("status") == "active"
            for name in ("WhatsApp", "SMS")
        )
    return payload.get("dnd") is True


def check_fresh(payload: Mapping[str, Any], *, now: datetime | None = None) -> None:
    """Replay defence with `webhookId`: the timestamp must be no older than GHL's retries
    (RETRY_WINDOW) and not in the future beyond clock skew."""
    stamp = parse_timestamp(payload.get("timestamp"))
    if stamp is None:
        raise WebhookRejected(401, "stale", "the webhook has no valid timestamp")
    age = (now or datetime.now(UTC)) - stamp
    if age > RETRY_WINDOW:
        raise WebhookRejected(401, "stale", "the webhook is older than GHL's retries")
    if age < -MAX_SKEW:
        raise WebhookRejected(401, "stale", "the webhook timestamp is in the future")


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    result: str  # "handled", "ignored"


class AppWebhookHandler:
    def __init__(
        self,
        settings: Settings,
        installs: InstallService,
        *,
        verifier: WebhookVerifier | None = None,
        on_uninstall: UninstallHook | None = None,
        forget_tokens: Callable[[], None] | None = None,
    ) -> None:
        self._app_id = settings.app_id
        self._installs = installs
        self._verifier = verifier or WebhookVerifier.from_settings(settings)
        self.on_uninstall = on_uninstall
        # (location id, conversation id, contact id): an agent read the conversation in GHL.
        self.on_conversation_read: ReadHook | None = None
        self._forget_tokens = forget_tokens

    async def handle(self, raw_body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        """Verify, dedupe and apply one delivery. Raises `WebhookRejected` with the answer."""
        self._verifier.verify(raw_body, headers)
        try:
            payload = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected(400, "malformed_json", "the body is not JSON") from None
        if not isinstance(payload, dict):
            raise WebhookRejected(400, "malformed_json", "the body is not a JSON object")
        kind = payload.get("type")
        if kind == READ_EVENT and payload.get("appId") in (None, self._app_id):
            return await self._conversation_read(payload)
        if kind in CONTACT_EVENTS and payload.get("appId") in (None, self._app_id):
            # Their documented payloads carry no appId (docs/webhook events/ContactDelete.md).
            return await self._contact_event(str(kind), payload)
        if payload.get("appId") != self._app_id:
            raise WebhookRejected(401, "wrong_app", "the webhook is for another app")
        if kind not in APP_EVENTS:
            log.info("GHL webhook of type %r ignored", kind)
            return WebhookOutcome(200, "ignored")
        check_fresh(payload)
        webhook_id = payload.get("webhookId")
        if not isinstance(webhook_id, str) or not webhook_id:
            raise WebhookRejected(400, "missing_field", "the webhook has no webhookId")
        location_id = payload.get("locationId") or None
        company_id = payload.get("companyId") or None
        # Over-long ids could not be stored and were answered 429, which GHL retries for ever
        # (issue 14, Low 8): they are malformed, a 400.
        if len(webhook_id) > 128 or any(
            value is not None and (not isinstance(value, str) or len(value) > 64)
            for value in (location_id, company_id)
        ):
            raise WebhookRejected(400, "bad_field", "an id in the webhook is malformed")
        if location_id is None and company_id is None:
            raise WebhookRejected(400, "missing_field", f"{kind} names no location or company")
        return await self._apply(str(kind), webhook_id, payload, location_id, company_id)

    async def _conversation_read(self, payload: dict[str, Any]) -> WebhookOutcome:
        """ConversationUnreadUpdate (docs/webhook events/ConversationUnreadWebhook.md:
        `{type, locationId, id, contactId, unreadCount, inbox, starred, deleted}`, no webhookId
        nor appId): at 0 an agent read the conversation, which the hook mirrors to WhatsApp.
        It sets a state, so a repeat changes nothing; no receipt is kept."""
        location_id, conversation_id = payload.get("locationId"), payload.get("id")
        contact_id = payload.get("contactId")
        if not all(
            isinstance(v, str) and 0 < len(v) <= 64 for v in (location_id, conversation_id)
        ) or not (contact_id is None or (isinstance(contact_id, str) and len(contact_id) <= 64)):
            raise WebhookRejected(400, "bad_field", "the unread update names no valid conversation")
        unread = payload.get("unreadCount")
        if unread != 0 or self.on_conversation_read is None:
            return WebhookOutcome(200, "ignored")
        assert isinstance(location_id, str) and isinstance(conversation_id, str)
        await self.on_conversation_read(location_id, conversation_id, contact_id or "")
        return WebhookOutcome(200, "handled")

    async def _contact_event(self, kind: str, payload: dict[str, Any]) -> WebhookOutcome:
        """ContactDelete drops the chats' mapping to the deleted contact (the next message finds
        or creates its contact again); ContactDndUpdate sets whether WhatsApp may be sent to it.
        Both set state, so a repeat changes nothing; a replayed `webhookId` is still refused."""
        location_id, contact_id = payload.get("locationId"), payload.get("id")
        if not all(isinstance(v, str) and 0 < len(v) <= 64 for v in (location_id, contact_id)):
            raise WebhookRejected(400, "bad_field", f"{kind} names no valid location or contact")
        if "timestamp" in payload:
            check_fresh(payload)
        webhook_id = payload.get("webhookId")
        context = {"location_id": location_id, "webhook_id": webhook_id}
        try:
            async with in_transaction() as conn:
                if isinstance(webhook_id, str) and 0 < len(webhook_id) <= 128:
                    await WebhookReceipt.create(
                        using_db=conn,
                        webhook_id=webhook_id,
                        kind=kind,
                        location_id=location_id,
                        payload=payload,
                        handled_at=datetime.now(UTC),
                    )
                chats = Contact.filter(location_id=location_id, ghl_contact_id=contact_id)
                if kind == "ContactDelete":
                    changed = await chats.using_db(conn).update(
                        ghl_contact_id=None, ghl_conversation_id=None
                    )
                else:
                    changed = await chats.using_db(conn).update(dnd=whatsapp_dnd(payload))
        except IntegrityError:
            log.info("GHL %s webhook replayed: refused", kind, extra=context)
            raise WebhookRejected(401, "replayed", "already received") from None
        except Exception:
            log.exception("GHL %s webhook not stored", kind, extra=context)
            raise WebhookRejected(429, "not_stored", "could not store the webhook") from None
        log.info("GHL %s webhook handled (%d chat(s))", kind, changed, extra=context)
        return WebhookOutcome(200, "handled")

    async def _apply(
        self,
        kind: str,
        webhook_id: str,
        payload: dict[str, Any],
        location_id: Any,
        company_id: Any,
    ) -> WebhookOutcome:
        context = {"webhook_id": webhook_id, "location_id": location_id, "company_id": company_id}
        stopped: list[str] = []
        try:
            async with in_transaction() as conn:
                receipt = await WebhookReceipt.create(
                    using_db=conn,
                    webhook_id=webhook_id,
                    kind=kind,
                    location_id=location_id,
                    company_id=company_id,
                    payload=payload,
                )
                if kind == "INSTALL":
                    await self._installs.record_install(conn, payload)
                else:
                    stopped = await self._installs.record_uninstall(conn, payload)
                receipt.handled_at = datetime.now(UTC)
                await receipt.save(using_db=conn, update_fields=["handled_at"])
        except IntegrityError:
            if await WebhookReceipt.exists(webhook_id=webhook_id):
                # The contract: a replay gets 401 and changes nothing. GHL retries only after a
                # 429, and a 429 means nothing was stored, so its retry is never taken for one.
                log.info("GHL %s webhook replayed: refused", kind, extra=context)
                raise WebhookRejected(401, "replayed", "already received") from None
            log.exception("GHL %s webhook not stored", kind, extra=context)
            raise WebhookRejected(429, "not_stored", "could not store the webhook") from None
        except Exception:
            log.exception("GHL %s webhook not stored", kind, extra=context)
            raise WebhookRejected(429, "not_stored", "could not store the webhook") from None
        log.info("GHL %s webhook handled", kind, extra=context)
        if self._forget_tokens is not None:
            self._forget_tokens()  # tokens were written or deleted: no cached copy may outlive that
        for stopped_location in stopped:
            await self._stop_sessions(stopped_location, webhook_id)
        return WebhookOutcome(200, "handled")

    async def _stop_sessions(self, location_id: str, webhook_id: str) -> None:
        if self.on_uninstall is None:
            return
        try:
            outcome = self.on_uninstall(location_id)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            # The uninstall is stored; the sessions refuse to run without tokens anyway.
            log.exception(
                "stopping sessions after uninstall failed",
                extra={"location_id": location_id, "webhook_id": webhook_id},
            )
