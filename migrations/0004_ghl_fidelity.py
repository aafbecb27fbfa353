from tortoise import migrations
from tortoise.migrations import operations as ops
from migrations._state_only import StateOnlyAlterField
from ghl_app.models import MessageStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_integrations')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Message',
            name='ghl_posted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Company',
            name='future_locations',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Contact',
            name='dnd',
            field=fields.BooleanField(default=False),
        ),
        # Only the enum's values change (a VARCHAR column): no SQLite table rebuild, which
        # would drop messages' unique constraints (see _state_only.py).
        StateOnlyAlterField(
            model_name='Message',
            name='status',
            field=fields.CharEnumField(description='RECEIVED: received\nSYNCED: synced\nPENDING: pending\nSENT: sent\nDELIVERED: delivered\nREAD: read\nFAILED: failed\nIGNORED: ignored', enum_type=MessageStatus, max_length=16),
        ),
    ]
