"""The fixture page's issue-16 controls (fake-wpp.js `react`, `edit`, `call`): a reaction, an
edit, a call, fired as wa-js 4.6.0 fires them."""

from __future__ import annotations

from typing import Any

from support.wa_fixture import FakeWhatsApp


class PhoneEvents(FakeWhatsApp):
    async def react(self, message_id: str, text: str, **opts: Any) -> str:
        """`text` '' removes the reaction; `chat=` names the chat of a message the page lacks."""
        result: dict[str, str] = await self._call("react", message_id, text, opts)
        return result["id"]

    async def edit(self, message_id: str, text: str) -> None:
        await self._call("edit", message_id, text)

    async def call(self, caller: str, *, video: bool = False) -> str:
        call_id: str = await self._call("call", caller, {"video": video})
        return call_id

    async def rejected_calls(self) -> list[str]:
        result: list[str] = await self._call("rejectedCalls")
        return result

    async def phone_reads_chat(self, chat: str) -> None:
        await self._call("phoneReadsChat", chat)

    async def marked_read(self) -> list[str]:
        """Chats WPP.chat.markIsRead was called for."""
        result: list[str] = await self._call("markedRead")
        return result

    async def composing(self) -> list[dict[str, Any]]:
        """markIsComposing calls: {chat_id, duration (ms), at (page ms)}."""
        result: list[dict[str, Any]] = await self._call("composing")
        return result
