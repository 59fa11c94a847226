"""The suite's own servers and databases: made for the run, restartable for fault tests, and nothing else touched."""

import psycopg
import pytest
import redis

from testsupport.services import postgres_database
from testsupport.shared_redis import MARK, RedisDatabaseClaim


def test_a_stopped_redis_comes_back_empty_on_its_port(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.set("answered", 1)
    redis_server.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    redis_server.start()
    assert client.get("answered") is None
    redis_server.kill()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    client.close()


def test_a_restarted_postgres_keeps_its_data_on_its_port(postgres_server):
    url = postgres_server.url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    postgres_server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    postgres_server.start()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]


def test_a_made_database_is_dropped_and_no_other(postgres_server):
    def names() -> set[str]:
        with psycopg.connect(postgres_server.url()) as conn:
            return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}

    with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE someone_elses")
    with postgres_database(postgres_server.url()) as url, postgres_database(postgres_server.url()) as other:
        made = url.rsplit("/", 1)[1]
        assert made.startswith("tollgate_test_") and made != other.rsplit("/", 1)[1]
        psycopg.connect(url).close()  # a session left open must not stop the drop
        assert made in names()
    assert made not in names() and "someone_elses" in names()


def test_a_shared_redis_run_takes_an_empty_database_and_deletes_only_its_keys(redis_server):
    someone = redis.Redis.from_url(redis_server.url)  # database 0 holds someone's data
    someone.set("theirs", "keep me")
    first = RedisDatabaseClaim(redis_server.url).claim()
    second = RedisDatabaseClaim(redis_server.url).claim()
    assert first.url.endswith("/1") and second.url.endswith("/2")  # never 0, never each other's
    ours = redis.Redis.from_url(first.url)
    ours.set("tollgate:quota:1:1:2025-01-01", 3)
    first.empty()
    assert ours.keys() == [MARK.encode()]
    first.release()
    second.release()
    assert ours.dbsize() == 0 and someone.get("theirs") == b"keep me"
    ours.close()
    someone.close()


@pytest.mark.django_db
def test_the_sqlite_test_database_lives_in_the_runs_folder(settings, test_run_dir):
    assert str(settings.DATABASES["default"]["NAME"]).startswith(str(test_run_dir))
