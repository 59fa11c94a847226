"""The default backend: keys and quotas live only in Tollgate's database."""

from keys.backends.base import BaseKeyBackend
from keys.models import ApiKey, Plan


class LocalKeyBackend(BaseKeyBackend):
    """Nothing remote to make: the local record is the key, and the gateway enforces quotas."""

    def create_key(self, *, owner_email: str, plan: Plan, plaintext: str) -> str:
        return ""

    def delete_key(self, *, backend_id: str) -> None:
        return None

    def revoke_key(self, *, api_key: ApiKey) -> None:
        return None
