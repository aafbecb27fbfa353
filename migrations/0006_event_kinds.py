import functools
from json import dumps, loads

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


# Issue 16: a WhatsApp number's settings for reactions, edits, calls and its ignore list
# (ghl_app/bridge/number_settings.py), one JSON object per instance.
class Migration(migrations.Migration):
    dependencies = [("models", "0005_wa_receipts_lid")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Instance",
            name="event_settings",
            field=fields.JSONField(
                default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
    ]
