"""A database number on someone else's Redis (TEST_REDIS_URL) that a test run found empty and marked as its own.

Tollgate's keys have fixed names (tollgate:quota:...), so a run cannot keep to a key prefix of its own:
it keeps to a database instead. The mark is set before the database is found empty, so two runs never
take the same one, and a run deletes only keys of a database it found empty: keys it wrote.
"""

import secrets
from urllib.parse import urlsplit, urlunsplit

from testsupport.services import ServiceUnavailable

MARK = "tollgate-test:run"
MARK_SECONDS = 24 * 3600  # a run killed before its end frees the number a day later, if it left nothing else


class RedisDatabaseClaim:
    def __init__(self, url: str) -> None:
        self.base = url
        self.token = secrets.token_hex(8)
        self.url = ""
        self._client = None

    def claim(self) -> "RedisDatabaseClaim":
        """Take the first empty database from the URL's number on (0 if it names none)."""
        import redis

        path = urlsplit(self.base).path.strip("/")
        first = int(path) if path.isascii() and path.isdigit() else 0
        try:
            with redis.Redis.from_url(self.base, socket_timeout=5) as probe:
                count = self._database_count(probe)
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"TEST_REDIS_URL {self.base} does not answer: {exc}") from exc
        for number in range(first, count):
            client = redis.Redis.from_url(self._url(number), socket_timeout=5)
            if client.set(MARK, self.token, nx=True, ex=MARK_SECONDS):
                if client.dbsize() == 1:
                    self.url, self._client = self._url(number), client
                    return self
                client.delete(MARK)  # ours: set just now, and the database holds someone's keys
            client.close()
        raise ServiceUnavailable(f"no empty database on TEST_REDIS_URL {self.base} from number {first} on")

    @staticmethod
    def _database_count(client) -> int:
        try:
            return int(client.config_get("databases")["databases"])
        except Exception:  # CONFIG is often disabled on managed Redis; 16 is the server's default
            return 16

    def _url(self, number: int) -> str:
        return urlunsplit(urlsplit(self.base)._replace(path=f"/{number}"))

    def empty(self) -> None:
        """Delete every key but the mark: the database was empty when claimed, so each one is this run's."""
        for key in self._client.scan_iter(count=1000):
            if key != MARK.encode():
                self._client.delete(key)

    def release(self) -> None:
        if self._client is None:
            return
        self.empty()
        if self._client.get(MARK) == self.token.encode():
            self._client.delete(MARK)
        self._client.close()
        self._client = None
