"""Usage alerts, taken over from keys with their table (keys_usagealert)."""

import django.db.models.deletion
from django.db import migrations, models


def content_types_move(apps, schema_editor, source: str = "keys", target: str = "usage") -> None:
    """Carry the models' content types over, and with them the permissions staff were given."""
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in ('usagealert',):
        if not content_type.objects.using(db).filter(app_label=target, model=model).exists():
            content_type.objects.using(db).filter(app_label=source, model=model).update(app_label=target)


def content_types_move_back(apps, schema_editor) -> None:
    content_types_move(apps, schema_editor, source="usage", target="keys")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('keys', '0008_verbose_names'),
    ]

    operations = [
        # The tables exist already, made by keys' migrations: only Django's idea of their app changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='UsageAlert',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField(verbose_name='day')),
                        ('kind', models.CharField(max_length=16, verbose_name='kind')),
                        ('percent', models.PositiveSmallIntegerField(verbose_name='percent')),
                        ('sent_at', models.DateTimeField(auto_now_add=True, verbose_name='sent at')),
                        ('key', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='keys.apikey', verbose_name='key')),
                    ],
                    options={
                        'verbose_name': 'usage alert',
                        'verbose_name_plural': 'usage alerts',
                        'db_table': 'keys_usagealert',
                        'constraints': [models.UniqueConstraint(fields=('key', 'day', 'kind', 'percent'), name='one_alert_per_key_day_threshold')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_move, content_types_move_back),
    ]
