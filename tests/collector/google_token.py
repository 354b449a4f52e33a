"""A service account made for the test (an RSA key generated here, in Google's key-file format) and a
stand-in for Google's OAuth 2 token endpoint, which checks the signed JWT-bearer grant as Google does
(signature by the account's key, issuer, audience, scope, lifetime) and answers with a new access token."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .standin import serving

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_EMAIL = "dcm-otelcol@dcm-otel-test-project.iam.gserviceaccount.com"
# The audience of the grant is Google's token endpoint, wherever the key file's token_uri sends it.
AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class TokenEndpoint:
    url: str
    public_key: rsa.RSAPublicKey
    issued: list[str] = field(default_factory=list)  # the access tokens handed out, in order
    refused: list[str] = field(default_factory=list)  # why each refused grant was refused
    lock: threading.Lock = field(default_factory=threading.Lock)

    def grant(self, form: dict[str, list[str]]) -> str | None:
        """The new access token, or None (and the reason kept) when the grant is not what Google takes."""
        try:
            [grant_type], [assertion] = form["grant_type"], form["assertion"]
            header, claims, signature = assertion.split(".")
            signed = f"{header}.{claims}".encode()
            self.public_key.verify(_unb64(signature), signed, padding.PKCS1v15(), hashes.SHA256())
            head, payload = json.loads(_unb64(header)), json.loads(_unb64(claims))
            assert grant_type == JWT_BEARER, grant_type
            assert head["alg"] == "RS256", head
            assert payload["iss"] == CLIENT_EMAIL, payload
            assert payload["aud"] == AUDIENCE, payload
            assert payload["scope"] == "https://www.googleapis.com/auth/cloud-platform", payload
            assert 0 < payload["exp"] - payload["iat"] <= 3600, payload
            assert abs(payload["iat"] - time.time()) < 300, payload
        except Exception as error:
            with self.lock:
                self.refused.append(repr(error))
            return None
        with self.lock:
            token = f"ya29.local-{len(self.issued) + 1}"
            self.issued.append(token)
        return token


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _handler(endpoint: TokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            token = endpoint.grant(parse_qs(body)) if self.path == "/token" else None
            answer: dict[str, Any] = (
                {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
                if token
                else {"error": "invalid_grant"}
            )
            data = json.dumps(answer).encode()
            self.send_response(200 if token else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read what the endpoint recorded."""

    return Handler


@contextmanager
def token_endpoint(key_file: Path) -> Iterator[TokenEndpoint]:
    """Serve the token endpoint on a free port and write ``key_file``, a service-account key whose
    ``token_uri`` points at it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    endpoint = TokenEndpoint(f"http://127.0.0.1:{server.server_address[1]}/token", key.public_key())
    server.RequestHandlerClass = _handler(endpoint)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "dcm-otel-test-project",
                "private_key_id": "test-key-1",
                "private_key": pem.decode(),
                "client_email": CLIENT_EMAIL,
                "client_id": "100000000000000000001",
                "token_uri": endpoint.url,
            }
        )
    )
    with serving(server):
        yield endpoint
