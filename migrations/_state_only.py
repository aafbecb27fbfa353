"""Migration operations that change Tortoise's recorded state and not the database.

Why: on SQLite, Tortoise applies `AlterField` by rebuilding the table, and the rebuilt table
loses its multi-column unique constraints (seen here: `messages`' unique
(instance_id, wa_message_id) was gone after altering only `origin`'s choices, so an echo was
stored twice). A change that touches no column (an enum's values on a VARCHAR, a description)
is recorded with `StateOnlyAlterField` instead.
"""

from __future__ import annotations

from typing import Any

from tortoise.migrations.operations import AlterField


class StateOnlyAlterField(AlterField):
    async def database_forward(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def database_backward(self, *args: Any, **kwargs: Any) -> None:
        return None
