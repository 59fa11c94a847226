"""Plans get a name for people (Starter, Standard, Plus for the seed's three); the API keeps the seed's names."""

from django.db import migrations, models

SEED_NAMES = {"10RequestPerDay": "Starter", "20RequestPerDay": "Standard", "30RequestPerDay": "Plus"}


def name_seed_plans(apps, schema_editor):
    Plan = apps.get_model("keys", "Plan")
    for name, display_name in SEED_NAMES.items():
        Plan.objects.filter(name=name, display_name="").update(display_name=display_name)


class Migration(migrations.Migration):
    dependencies = [("keys", "0009_models_moved_to_usage_and_accounts")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="display_name",
            field=models.CharField(
                blank=True,
                help_text="A name for people, shown on plan cards beside the plan's name (e.g. Starter). "
                "The API keeps the name.",
                max_length=80,
                verbose_name="display name",
            ),
        ),
        migrations.RunPython(name_seed_plans, migrations.RunPython.noop),
    ]
