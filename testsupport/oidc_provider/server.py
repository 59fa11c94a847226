"""The test OpenID Connect provider in a process of its own, on a free loopback port, with its own SQLite file.

    with OidcProvider() as provider:
        user = provider.create_user("ann@example.com")  # email_verified: true unless told otherwise
        client = provider.new_client()
        ...  # start the relying party with client.client_id and client.secret, then:
        provider.register_client(client, redirect_uris=["http://127.0.0.1:8000/accounts/oidc/x/login/callback/"])

Each run signs its ID tokens (RS256) with a key made at start. The provider requires PKCE with S256, and
registered clients skip the consent page: a log-in is the provider's login form, then straight back.
"""

import os
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ProviderUser:
    """A user of the provider: what its login form takes, and the subject its tokens name."""

    email: str
    username: str
    password: str
    sub: str


@dataclass(frozen=True)
class ProviderClient:
    """A relying party's credentials at the provider."""

    client_id: str = field(default_factory=lambda: f"client-{secrets.token_hex(6)}")
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class OidcProvider:
    """django-oauth-toolkit with OpenID Connect (testsupport/oidc_provider), served by its own process."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tollgate-oidc-"))
        self.port = 0
        self._admin = requests.Session()
        self._admin.trust_env = False  # loopback only: no proxy from the environment
        self._admin.headers["Authorization"] = f"Bearer {secrets.token_urlsafe(24)}"
        self.process: subprocess.Popen | None = None
        self.log = open(self.dir / "provider.log", "w+")  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        """The issuer URL: discovery is at issuer + /.well-known/openid-configuration."""
        return f"{self.url}/o"

    def start(self) -> "OidcProvider":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "testsupport.oidc_provider.settings",
            "OIDC_PROVIDER_SECRET_KEY": secrets.token_urlsafe(32),
            "OIDC_PROVIDER_DATABASE": str(self.dir / "provider.sqlite3"),
            "OIDC_PROVIDER_RSA_KEY": pem.decode(),
            "OIDC_PROVIDER_ADMIN_TOKEN": self._admin.headers["Authorization"].removeprefix("Bearer "),
            "TMPDIR": str(self.dir),
        }
        command = [sys.executable, "-m", "testsupport.oidc_provider"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.port = self._read_port(deadline=time.monotonic() + 30)
        return self

    def _read_port(self, deadline: float) -> int:
        assert self.process and self.process.stdout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                line = self.process.stdout.readline()
                if line.strip().isascii() and line.strip().isdecimal():
                    return int(line)
            if self.process.poll() is not None:
                break
        self.close()
        raise RuntimeError(f"the test OpenID Connect provider did not start: {self.output()}")

    def output(self) -> str:
        """What the provider logged (its requests and errors)."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def create_user(self, email: str, *, email_verified: bool | str = True, **claims) -> ProviderUser:
        """A new user with this email; email_verified and any other claims go into its ID token and userinfo."""
        username, password = f"user-{secrets.token_hex(6)}", secrets.token_urlsafe(16)
        body = {
            "username": username,
            "email": email,
            "password": password,
            "claims": {"email_verified": email_verified, **claims},
        }
        response = self._admin.post(f"{self.url}/testsupport/users/", json=body, timeout=10)
        response.raise_for_status()
        return ProviderUser(email=email, username=username, password=password, sub=response.json()["sub"])

    def new_client(self) -> ProviderClient:
        """Fresh credentials, to give the relying party before it starts; register_client() makes them valid."""
        return ProviderClient()

    def register_client(self, client: ProviderClient, redirect_uris: list[str]) -> None:
        body = {"client_id": client.client_id, "client_secret": client.secret, "redirect_uris": redirect_uris}
        self._admin.post(f"{self.url}/testsupport/clients/", json=body, timeout=10).raise_for_status()

    def authorizations(self, client: ProviderClient) -> list[dict]:
        """Each code the provider granted this client: {"code_challenge_method": "S256", "scopes": "openid ..."}."""
        response = self._admin.get(
            f"{self.url}/testsupport/authorizations/", params={"client_id": client.client_id}, timeout=10
        )
        response.raise_for_status()
        return response.json()["authorizations"]

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
        self._admin.close()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "OidcProvider":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
