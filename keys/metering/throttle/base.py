"""The contract every per-second throttle fulfils."""

from keys.metering.types import KeyInfo


def bucket_size(info: KeyInfo) -> float:
    return float(info.throttle_burst or max(info.throttle_rate or 1.0, 1.0))


class BaseThrottle:
    """A token bucket per key: `throttle_rate` tokens a second, holding at most `bucket_size()`."""

    # -- Must be implemented by subclasses ------------------------------------------------------

    async def wait(self, info: KeyInfo) -> float:
        """Take a token: return 0 if there was one, else the seconds until there will be one.

        Only called for keys whose plan has a throttle rate. A refusal takes nothing.
        """
        raise NotImplementedError("subclasses of BaseThrottle must provide a wait() method")
