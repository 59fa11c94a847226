"""UsageAlert moved to usage, AccountSettings and AuditEvent to accounts: their tables stay, under the same names."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("keys", "0008_verbose_names"),
        # The new apps take the models over first, so nothing ever finds them missing.
        ("accounts", "0001_initial"),
        ("usage", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AccountSettings"),
                migrations.DeleteModel(name="AuditEvent"),
                migrations.DeleteModel(name="UsageAlert"),
            ],
            database_operations=[],
        ),
    ]
