"""Local stand-ins that record what Alertmanager delivers: an SMTP sink (aiosmtpd, a real SMTP server, with
AUTH) and one HTTP server for the Slack, PagerDuty and webhook endpoints (recording method, path, headers
and JSON body of every request, answering as those services do)."""

from __future__ import annotations

import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic())


class HttpRecorder:
    """One ThreadingHTTPServer on 127.0.0.1; `requests(path)` lists what arrived at a path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                recorder._add(
                    Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if self.path.startswith("/pagerduty"):
                    # PagerDuty Events v2 answers 202 with this body.
                    self._answer(202, {"status": "success", "message": "Event processed", "dedup_key": "x"})
                elif self.path.startswith("/slack"):
                    self._answer(200, "ok")
                else:
                    self._answer(200, {})

            def _answer(self, status: int, body: Any) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "text/plain" if isinstance(body, str) else "application/json"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _add(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def __enter__(self) -> HttpRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that requires AUTH with one user and keeps every message."""

    username: str
    password: str
    port_number: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], str]] = field(default_factory=list)  # from, to, authenticated user
    _controller: Controller | None = None

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, _class=EmailMessage, policy=policy.default)
        self.messages.append(message)
        user = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else ""
        self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos), user))
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (self.username, self.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self) -> None:
        with warnings.catch_warnings():  # "AUTH without TLS": this sink is on 127.0.0.1 only
            warnings.simplefilter("ignore", UserWarning)
            self._controller = self._make_controller()
        self._controller.start()

    def _make_controller(self) -> Controller:
        return Controller(
            self,
            hostname="127.0.0.1",
            port=self.port_number,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=False,
            # aiosmtpd's LOGIN challenges ("User Name") are not the "Username:" Alertmanager expects; it then
            # uses PLAIN (to 127.0.0.1, which Go's smtp.PlainAuth allows without TLS).
            auth_exclude_mechanism=["LOGIN"],
        )

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        self.messages.clear()
        self.envelopes.clear()
