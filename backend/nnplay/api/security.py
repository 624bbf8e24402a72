"""Who may do what: the class token, the Host/Origin allow-list, identities and the admin.

One pure ASGI middleware (`Guard`) checks every HTTP request and websocket handshake
before any route sees it, and leaves the caller (`Caller`: a signed identity and
whether the admin token came with it) in the scope for routes to read.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Depends
from itsdangerous import BadSignature, Signer
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nnplay.config import Settings

log = logging.getLogger("nnplay.security")

IDENTITY_COOKIE = "nnplay_identity"
TOKEN_COOKIE = "nnplay_token"
COOKIE_MAX_AGE = 365 * 24 * 3600
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
ANY_ADDRESS = ("0.0.0.0", "::", "")
# Open without the class token: container health checks and the page's own files.
OPEN_PATHS = frozenset({"/api/health", "/favicon.ico"})
OPEN_PREFIXES = ("/static/", "/js/")
SCOPE_KEY = "nnplay.caller"
READ_ONLY = "this run belongs to someone else; you can watch it but not change it"


@dataclass(frozen=True)
class Caller:
    """Who sent a request: their identity, and whether they hold the admin token."""

    identity: str
    admin: bool = False

    def may_control(self, owner: str | None) -> bool:
        """Whether this caller may change a run owned by `owner` (None: stored before owners)."""
        if self.admin:
            return True
        return owner is not None and secrets.compare_digest(owner, self.identity)


@dataclass
class SecurityPolicy:
    """The server's tokens, allowed Host names and identity signer, fixed at start."""

    token: str | None
    admin_token: str | None
    allowed_hosts: frozenset[str] | None  # None: any Host (`--allow-host '*'`)
    signer: Signer
    share_host: str  # the address printed in the URL to share
    port: int
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecurityPolicy:
        """Resolve tokens (generating those that are required), hosts and the signing secret."""
        warnings: list[str] = []
        loopback = _is_loopback(settings.host)
        token = settings.token or None
        if settings.no_token:
            token = None
            warnings.append(
                f"--no-token: the server listens on {settings.host} with NO class token"
                + ("" if loopback else "; anyone who can reach this machine can start jobs "
                   "and watch every run"))
        elif token is None and not loopback:
            token = secrets.token_urlsafe(24)
        admin_token = settings.admin_token or None
        if token is not None and admin_token is None:
            admin_token = secrets.token_urlsafe(24)
        hosts, share_host = _allowed_hosts(settings)
        extra = [name.strip().lower() for name in settings.allow_hosts.split(",") if name.strip()]
        allowed: frozenset[str] | None = frozenset(hosts | {_strip_brackets(n) for n in extra})
        if "*" in extra:
            allowed = None
            warnings.append("--allow-host '*': the Host header is not checked; pages on other "
                            "sites can reach this server through DNS rebinding")
        secret = _load_secret(settings.data_dir / "secret" if settings.persist else None)
        return cls(token=token, admin_token=admin_token, allowed_hosts=allowed,
                   signer=Signer(secret, salt="nnplay-identity"), share_host=share_host,
                   port=settings.port, warnings=warnings)

    def url(self, token: str | None) -> str:
        """A ready-to-open URL of the page, with `token` if given."""
        host = f"[{self.share_host}]" if ":" in self.share_host else self.share_host
        query = f"?token={token}" if token else ""
        return f"http://{host}:{self.port}/{query}"

    def host_allowed(self, host_header: str) -> bool:
        """Whether a Host header names this server (DNS rebinding guard)."""
        if self.allowed_hosts is None:
            return True
        return _host_name(host_header) in self.allowed_hosts

    def origin_allowed(self, origin: str) -> bool:
        """Whether a websocket's Origin is a page of this server."""
        if self.allowed_hosts is None:
            return True
        try:
            name = urlsplit(origin).hostname
        except ValueError:
            return False
        return name is not None and name.lower() in self.allowed_hosts

    def new_identity(self) -> tuple[str, str]:
        """A fresh identity and its signed cookie value."""
        identity = secrets.token_urlsafe(16)
        return identity, self.signer.sign(identity).decode()

    def verify_identity(self, cookie: str) -> str | None:
        """The identity in a signed cookie value, or None if the signature is wrong."""
        try:
            return self.signer.unsign(cookie).decode()
        except BadSignature:
            return None

    def token_matches(self, given: str | None, expected: str | None) -> bool:
        """Constant-time comparison of a presented token with one of ours."""
        return bool(given and expected and secrets.compare_digest(given.encode(),
                                                                  expected.encode()))


class Guard:
    """Checks Host, websocket Origin and the class token; attaches the caller's identity."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        policy = self.policy
        headers = Headers(scope=scope)
        path: str = scope["path"]
        host = headers.get("host", "")
        if not policy.host_allowed(host):
            await _deny(scope, receive, send, 400, (
                f"this server does not answer to the Host {host!r}; the teacher can add the "
                "name with --allow-host"))
            return
        origin = headers.get("origin")
        if scope["type"] == "websocket" and origin is not None \
                and not policy.origin_allowed(origin):
            await _deny(scope, receive, send, 403, (
                f"websocket refused: pages from {origin!r} may not connect to this server"))
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        cookies = cookie_parser(headers.get("cookie", ""))
        bearer = headers.get("authorization", "")
        presented = [bearer[7:].strip() if bearer[:7].lower() == "bearer " else None,
                     query.get("token"), cookies.get(TOKEN_COOKIE)]
        admin = any(policy.token_matches(t, policy.admin_token) for t in presented)
        open_path = path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)
        if open_path:
            await self.app(scope, receive, send)
            return
        if policy.token is not None and not admin and not any(
                policy.token_matches(t, policy.token) for t in presented):
            await _deny(scope, receive, send, 401, (
                "this server needs the class token: open the link your teacher shared, "
                "or send 'Authorization: Bearer TOKEN'"), page=_is_page(path))
            return
        set_cookies: list[str] = []
        identity = policy.verify_identity(cookies.get(IDENTITY_COOKIE, ""))
        if identity is None:
            identity, signed = policy.new_identity()
            set_cookies.append(_cookie(IDENTITY_COOKIE, signed))
        scope[SCOPE_KEY] = Caller(identity, admin)
        query_token = query.get("token")
        if (scope["type"] == "http" and scope["method"] == "GET" and _is_page(path)
                and (policy.token_matches(query_token, policy.token)
                     or policy.token_matches(query_token, policy.admin_token))):
            # Exchange the token for a cookie and drop it from the address bar.
            assert query_token is not None
            set_cookies.append(_cookie(TOKEN_COOKIE, query_token))
            rest = urlencode([(k, v) for k, v in parse_qsl(
                scope.get("query_string", b"").decode("latin-1")) if k != "token"])
            location = path + (f"?{rest}" if rest else "")
            await send({"type": "http.response.start", "status": 303, "headers": [
                (b"location", location.encode("latin-1")), (b"content-length", b"0"),
                *[(b"set-cookie", c.encode("latin-1")) for c in set_cookies]]})
            await send({"type": "http.response.body", "body": b""})
            return
        if not set_cookies:
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                extra = [(b"set-cookie", c.encode("latin-1")) for c in set_cookies]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def get_caller(connection: HTTPConnection) -> Caller:
    """The caller the Guard attached to this request or websocket."""
    caller = connection.scope.get(SCOPE_KEY)
    if not isinstance(caller, Caller):
        raise RuntimeError("no caller: the app was built without the security Guard")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def _deny(scope: Scope, receive: Receive, send: Send, status: int, sentence: str,
                page: bool = False) -> None:
    """Answer `status` with the sentence: JSON, a small HTML page, or a refused websocket."""
    if page:
        body = _DENIED_PAGE.format(sentence=html.escape(sentence)).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": sentence}).encode()
        content_type = b"application/json"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # the websocket.connect message
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:  # servers without the denial-response extension answer 403
        await send({"type": "websocket.close", "code": 1008, "reason": sentence[:120]})


_DENIED_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>nnplay: ask for the link</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 4em auto">
<h1>Ask your teacher for the link</h1><p>{sentence}</p></body></html>
"""


def _is_page(path: str) -> bool:
    return not (path.startswith("/api/") or path.startswith("/ws/")
                or path == "/openapi.json")


def _cookie(name: str, value: str) -> str:
    return f"{name}={value}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax"


def _strip_brackets(name: str) -> str:
    return name[1:-1] if name.startswith("[") and name.endswith("]") else name


def _host_name(host_header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed_hosts(settings: Settings) -> tuple[set[str], str]:
    """Loopback names, the bound host, and (bound to every interface) this machine's names."""
    hosts = set(LOOPBACK_NAMES)
    share = settings.host
    if settings.host not in ANY_ADDRESS:
        hosts.add(settings.host.lower())
        return hosts, share
    share = "127.0.0.1"
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            hosts.add(name.lower())
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            hosts.add(str(info[4][0]).lower())
    except OSError:
        pass
    outward = _outward_address()
    if outward is not None:
        hosts.add(outward)
        share = outward
    return hosts, share


def _outward_address() -> str | None:
    """The address other machines reach this one at (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            address: str = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("0.") else address


def _load_secret(path: Path | None) -> bytes:
    """The identity-signing secret: kept in `path` (mode 0600) so identities survive restarts."""
    if path is None:
        return secrets.token_bytes(32)
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    data = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)
    return data
