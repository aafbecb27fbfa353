"""WhatsApp's own connection, from every signal wa-js gives while the browser lives.

wa-js 4.6.0 (src/conn/events/):
- `conn.stream_mode_changed` (registerStreamEvent.ts, Stream 'change:mode'): the mode,
  whatsapp/enums/StreamMode.ts: QR, MAIN, SYNCING, OFFLINE, CONFLICT, PROXYBLOCK, TOS_BLOCK,
  SMB_TOS_BLOCK, DEPRECATED_VERSION;
- `conn.stream_info_changed` (same file, Stream 'change:info'): the internal connection state,
  whatsapp/enums/StreamInfo.ts: OFFLINE, OPENING, PAIRING, SYNCING, RESUMING, CONNECTING, NORMAL;
- `conn.online` (registerOnlineEvent.ts, NetworkStatus 'change:online'): whether WhatsApp Web
  has a network at all, a boolean;
- `conn.backend_event` (registerBackendEventBusEvents.ts: every BackendEventBus.trigger, its
  name first; names in whatsapp/misc/BackendEventBus.ts), of which `account_temporarily_banned`
  says why the number stopped working.

Each is one input here; the number is down while any says so, with the most telling reason
first, and up again only when none does and the mode is MAIN (or was never told). Transient
infos (OPENING, CONNECTING, RESUMING...) change nothing: they come and go within a reconnect.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.events import StreamState

# StreamMode values that mean WhatsApp is not reachable through this session, with the reason
# the page shows (its text is chosen by the word before the colon).
STREAM_DOWN = {
    "OFFLINE": "offline: WhatsApp cannot be reached (no internet on the phone or this server)",
    "CONFLICT": "conflict: WhatsApp is open on another computer",
    "PROXYBLOCK": "proxy_blocked: WhatsApp refuses this server's network",
    "TOS_BLOCK": "banned: WhatsApp blocked this number",
    "SMB_TOS_BLOCK": "banned: WhatsApp blocked this business number",
    "DEPRECATED_VERSION": "outdated: WhatsApp Web asks for a newer version",
}
NO_NETWORK = "offline: this server's browser has no network connection"
STREAM_OFFLINE = "offline: the connection to WhatsApp is down"
TEMPORARILY_BANNED = "banned: WhatsApp temporarily banned this number"
# Backend events that only need a log line and the operator's eye (they do not say the number
# is down): the storage error's own doc says "clear profile and restart to recover".
BACKEND_PROBLEMS = {
    "storage_initialization_error": (
        "storage_initialization_error: WhatsApp Web could not open its browser storage;"
        " restart the number (if it persists, log out and link it again)"
    ),
}


@dataclass(slots=True)
class Health:
    """The last value of each signal, and the reason last reported (None: reported up)."""

    mode: str | None = None
    info_down: bool = False  # StreamInfo OFFLINE, until NORMAL (the reconnect's steps between)
    online: bool = True
    banned: bool = False
    reported: str | None = None

    def reason(self) -> str | None:
        if self.mode in STREAM_DOWN:
            return STREAM_DOWN[self.mode]
        if self.banned:
            return TEMPORARILY_BANNED
        if not self.online:
            return NO_NETWORK
        if self.info_down:
            return STREAM_OFFLINE
        return None

    def on_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == "MAIN":
            # A fresh MAIN is the stream back (as the engine always took it): a ban or an
            # OFFLINE info before it is over, even if WhatsApp Web never says so otherwise; a
            # number stuck "down" would hold its replies back for hours.
            self.banned = False
            self.info_down = False

    def on_info(self, info: str) -> None:
        if info == "OFFLINE":
            self.info_down = True
        elif info == "NORMAL":
            self.info_down = False

    def on_online(self, online: bool) -> None:
        self.online = online

    def on_backend(self, name: str) -> None:
        if name == "account_temporarily_banned":
            self.banned = True

    def change(self, instance_id: str, *, connected: bool) -> StreamState | None:
        """The state to report after an input, if it changed; nothing before the login (the
        QR and sync screens are the login events' story)."""
        if not connected:
            return None
        reason = self.reason()
        if reason is not None:
            if reason == self.reported:
                return None
            self.reported = reason
            return StreamState(instance_id, False, reason)
        if self.reported is not None and self.mode in (None, "MAIN"):
            self.reported = None
            return StreamState(instance_id, True, "")
        return None
