"""A team's rows newest first, for its owners' view of the log (only team keys' rows have a team)."""

from django.db import migrations

CREATE = (
    "CREATE INDEX requestlog_request_team_time ON requestlog_request (team_id, time DESC, id DESC) "
    "WHERE team_id IS NOT NULL"
)


class Migration(migrations.Migration):
    dependencies = [("requestlog", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, "DROP INDEX requestlog_request_team_time")]
