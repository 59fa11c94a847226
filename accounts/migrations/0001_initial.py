"""Account settings and the audit trail, taken over from keys with their tables (keys_*)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_types_move(apps, schema_editor, source: str = "keys", target: str = "accounts") -> None:
    """Carry the models' content types over, and with them the permissions staff were given."""
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in ('accountsettings', 'auditevent'):
        if not content_type.objects.using(db).filter(app_label=target, model=model).exists():
            content_type.objects.using(db).filter(app_label=source, model=model).update(app_label=target)


def content_types_move_back(apps, schema_editor) -> None:
    content_types_move(apps, schema_editor, source="accounts", target="keys")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('keys', '0008_verbose_names'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables exist already, made by keys' migrations: only Django's idea of their app changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AccountSettings',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('usage_alerts', models.BooleanField(default=True, help_text="Mail me at 80% and 100% of a key's day.", verbose_name='usage alerts')),
                        ('language', models.CharField(blank=True, default='', help_text="The language Tollgate mails in; blank for the site's.", max_length=16, verbose_name='language')),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='tollgate_settings', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'account settings',
                        'verbose_name_plural': 'account settings',
                        'db_table': 'keys_accountsettings',
                    },
                ),
                migrations.CreateModel(
                    name='AuditEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('actor_email', models.CharField(blank=True, help_text='Kept if the account is deleted.', max_length=254, verbose_name='actor email')),
                        ('action', models.CharField(db_index=True, max_length=40, verbose_name='action')),
                        ('target', models.CharField(blank=True, max_length=200, verbose_name='target')),
                        ('detail', models.CharField(blank=True, max_length=300, verbose_name='detail')),
                        ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='ip')),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='created at')),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='actor')),
                        ('subject', models.ForeignKey(blank=True, help_text='The user whose account or key it concerns.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='subject')),
                    ],
                    options={
                        'verbose_name': 'audit event',
                        'verbose_name_plural': 'audit events',
                        'db_table': 'keys_auditevent',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_move, content_types_move_back),
    ]
