"""The asyncio Redis client every store and throttle uses."""


def redis_client(url: str):
    """An asyncio Redis client whose callers queue for one of a bounded set of connections.

    redis-py's default pool raises MaxConnectionsError past 100 commands in flight, which a
    thousand open chat streams reach; waiting a moment for a connection is the right answer.
    """
    import redis.asyncio

    pool = redis.asyncio.BlockingConnectionPool.from_url(url, max_connections=64, timeout=10)
    return redis.asyncio.Redis(connection_pool=pool)
