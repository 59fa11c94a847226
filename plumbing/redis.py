"""The asyncio Redis client every store and throttle uses."""


def redis_client(url: str):
    """An asyncio Redis client whose callers queue for one of a bounded set of connections.

    redis-py's default pool raises MaxConnectionsError past 100 commands in flight, which a
    thousand open chat streams reach; waiting a moment for a connection is the right answer.
    """
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError, TimeoutError

    # A pooled connection from before a Redis restart fails once; the command goes again on a new one,
    # so the first requests after Redis is back are not refused. (A Redis still down fails both tries.)
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url,
        max_connections=64,
        timeout=10,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    return redis.asyncio.Redis(connection_pool=pool)
