"""Team keys, key scopes and per-key caps; quota counters held by a user or a team."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("keys", "0011_budgets_periods_prices"),
        ("teams", "0001_initial"),
    ]

    operations = [
        # A counter's holder is a user's id or minus a team's id: no longer a foreign key to users.
        migrations.RemoveConstraint(model_name="quotacounter", name="one_counter_per_owner_plan_day"),
        migrations.AlterField(
            model_name="quotacounter",
            name="owner",
            field=models.BigIntegerField(db_column="owner_id"),
        ),
        migrations.RenameField(model_name="quotacounter", old_name="owner", new_name="owner_id"),
        migrations.AlterField(
            model_name="quotacounter",
            name="owner_id",
            field=models.BigIntegerField(
                db_column="owner_id", help_text="A user's id, or minus a team's id.", verbose_name="holder"
            ),
        ),
        migrations.AddConstraint(
            model_name="quotacounter",
            constraint=models.UniqueConstraint(fields=("owner_id", "plan", "day"), name="one_counter_per_owner_plan_day"),
        ),
        migrations.AddField(
            model_name="apikey",
            name="team",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                help_text="A team key draws on the team's shared quota in its plan; empty: a personal key.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="api_keys",
                to="teams.team",
                verbose_name="team",
            ),
        ),
        migrations.AddField(
            model_name="apikey",
            name="allowed_ips",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="IPv4 and IPv6 addresses and CIDRs the key may be used from; empty: anywhere.",
                verbose_name="allowed addresses",
            ),
        ),
        migrations.AddField(
            model_name="apikey",
            name="allowed_models",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Models of the plan the key may call; empty: all the plan grants.",
                verbose_name="allowed models",
            ),
        ),
        migrations.AddField(
            model_name="apikey",
            name="max_requests",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Requests a period for this key alone, under the plan's; empty: the plan's.",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="max requests",
            ),
        ),
        migrations.RemoveConstraint(model_name="apikey", name="one_active_key_per_plan"),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.UniqueConstraint(
                condition=models.Q(("revoked_at__isnull", True), ("team__isnull", True)),
                fields=("owner", "plan"),
                name="one_active_key_per_plan",
            ),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.UniqueConstraint(
                condition=models.Q(("revoked_at__isnull", True), ("team__isnull", False)),
                fields=("owner", "team", "plan"),
                name="one_active_team_key_per_plan",
            ),
        ),
        migrations.CreateModel(
            name="KeyCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(verbose_name="day")),
                ("used", models.PositiveIntegerField(default=0, verbose_name="used")),
                (
                    "key",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="keys.apikey",
                        verbose_name="key",
                    ),
                ),
            ],
            options={
                "verbose_name": "key counter",
                "verbose_name_plural": "key counters",
                "constraints": [models.UniqueConstraint(fields=("key", "day"), name="one_counter_per_key_day")],
            },
        ),
    ]
