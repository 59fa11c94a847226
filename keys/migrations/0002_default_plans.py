"""The seed's three plans: 10, 20 and 30 requests a day."""

from django.db import migrations

PLANS = [
    ("10RequestPerDay", 10, "For trying things out.", 10),
    ("20RequestPerDay", 20, "For light daily use.", 20),
    ("30RequestPerDay", 30, "For regular daily use.", 30),
]


def create_plans(apps, schema_editor):
    Plan = apps.get_model("keys", "Plan")
    for name, per_day, description, order in PLANS:
        Plan.objects.get_or_create(
            name=name, defaults={"requests_per_day": per_day, "description": description, "order": order}
        )


def remove_plans(apps, schema_editor):
    Plan = apps.get_model("keys", "Plan")
    Plan.objects.filter(name__in=[p[0] for p in PLANS], api_keys__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("keys", "0001_initial")]
    operations = [migrations.RunPython(create_plans, remove_plans)]
