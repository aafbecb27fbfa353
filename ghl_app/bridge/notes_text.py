"""The words of the notes a WhatsApp event leaves in a GHL conversation (issue 16), in the
number's notes language. GHL has no message type for a reaction, an edit, a deleted message
or a call, so each becomes a line a CRM user reads naturally in the thread."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "reacted": "{emoji} reacted to: «{quote}»",
        "reacted_unknown": "{emoji} reacted to a message",
        "reaction_removed": "reaction removed from: «{quote}»",
        "reaction_removed_unknown": "reaction removed from a message",
        "edited": "edited: «{text}»",
        "edited_empty": "edited a message",
        "deleted": "message deleted by the sender",
        "missed_voice": "missed voice call",
        "missed_video": "missed video call",
        "declined_voice": "voice call declined (automatic reply sent)",
        "declined_video": "video call declined (automatic reply sent)",
        "location": "📍 Location: {place}",
        "location_unnamed": "📍 Location",
        "contact": "👤 Contact: {who}",
        "poll": "📊 Poll: {question}",
        "view_once": "[View-once message: it can only be opened on the phone]",
        "quoted": "↩ «{quote}»",
        "forwarded": "[Forwarded]",
        "media": "[{kind}]",
        "voice_note": "Voice note ({duration})",
        "audio": "Audio ({duration})",
    },
    "pt-BR": {
        "reacted": "{emoji} reagiu a: «{quote}»",
        "reacted_unknown": "{emoji} reagiu a uma mensagem",
        "reaction_removed": "reação removida de: «{quote}»",
        "reaction_removed_unknown": "reação removida de uma mensagem",
        "edited": "editou: «{text}»",
        "edited_empty": "editou uma mensagem",
        "deleted": "mensagem apagada pelo remetente",
        "missed_voice": "chamada de voz perdida",
        "missed_video": "chamada de vídeo perdida",
        "declined_voice": "chamada de voz recusada (resposta automática enviada)",
        "declined_video": "chamada de vídeo recusada (resposta automática enviada)",
        "location": "📍 Localização: {place}",
        "location_unnamed": "📍 Localização",
        "contact": "👤 Contato: {who}",
        "poll": "📊 Enquete: {question}",
        "view_once": "[Mensagem de visualização única: só pode ser aberta no celular]",
        "quoted": "↩ «{quote}»",
        "forwarded": "[Encaminhada]",
        "media": "[{kind}]",
        "voice_note": "Mensagem de voz ({duration})",
        "audio": "Áudio ({duration})",
    },
}

# What a message without text is called when a note quotes it.
MEDIA_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "image": "photo",
        "video": "video",
        "audio": "audio",
        "ptt": "voice message",
        "document": "document",
        "sticker": "sticker",
        "location": "location",
        "vcard": "contact",
        "multi_vcard": "contacts",
        "poll_creation": "poll",
    },
    "pt-BR": {
        "image": "foto",
        "video": "vídeo",
        "audio": "áudio",
        "ptt": "mensagem de voz",
        "document": "documento",
        "sticker": "figurinha",
        "location": "localização",
        "vcard": "contato",
        "multi_vcard": "contatos",
        "poll_creation": "enquete",
    },
}

QUOTE_CHARS = 40


def say(language: str, name: str, **params: str) -> str:
    texts = TEXTS.get(language, TEXTS["en"])
    return texts[name].format(**params)


def media_name(language: str, kind: str) -> str:
    names = MEDIA_NAMES.get(language, MEDIA_NAMES["en"])
    return say(language, "media", kind=names.get(kind, kind))


def first_words(text: str, limit: int = QUOTE_CHARS) -> str:
    """The start of a text on one line, cut at a word with "…" when longer than `limit`."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return f"{cut}…"
