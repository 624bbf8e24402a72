"""The security policy a server starts with: which tokens, which Host names, which secret."""

from __future__ import annotations

import socket
from pathlib import Path

from nnplay.api.security import SecurityPolicy
from nnplay.config import Settings


def policy(tmp_path: Path, **settings: object) -> SecurityPolicy:
    """The policy of a server with these settings (not the tests' `testserver` Host)."""
    chosen = {"allow_hosts": "", **settings}
    return SecurityPolicy.from_settings(Settings(data_dir=tmp_path, **chosen))  # type: ignore[arg-type]


def test_loopback_needs_no_token_unless_one_is_given(tmp_path: Path) -> None:
    plain = policy(tmp_path)
    assert (plain.token, plain.admin_token, plain.warnings) == (None, None, [])
    chosen = policy(tmp_path, token="abc")
    assert chosen.token == "abc" and chosen.admin_token  # the admin token comes with it
    assert chosen.url(chosen.token) == "http://127.0.0.1:8000/?token=abc"


def test_off_loopback_tokens_are_generated_and_no_token_warns(tmp_path: Path) -> None:
    classroom = policy(tmp_path, host="0.0.0.0")
    assert classroom.token and classroom.admin_token and classroom.token != classroom.admin_token
    assert len(classroom.token) >= 24
    assert policy(tmp_path, host="0.0.0.0").token != classroom.token  # random each start
    unsafe = policy(tmp_path, host="0.0.0.0", no_token=True)
    assert unsafe.token is None and unsafe.admin_token is None
    assert any("NO class token" in warning for warning in unsafe.warnings)


def test_host_names_allowed(tmp_path: Path) -> None:
    local = policy(tmp_path)
    for host in ("localhost", "localhost:8000", "127.0.0.1:9", "[::1]:8000", "LOCALHOST"):
        assert local.host_allowed(host), host
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "",
                 "[::2]:8000"):
        assert not local.host_allowed(host), host
    assert local.origin_allowed("http://localhost:5173")
    assert not local.origin_allowed("http://evil.example") and not local.origin_allowed("null")
    bound = policy(tmp_path, host="192.168.7.7", allow_hosts="nnplay.lan, Other.Lan")
    assert bound.host_allowed("192.168.7.7:8000") and bound.host_allowed("other.lan")
    assert bound.host_allowed("nnplay.lan:8000")
    everywhere = policy(tmp_path, host="0.0.0.0")
    assert everywhere.host_allowed(f"{socket.gethostname()}:8000")
    assert everywhere.host_allowed(f"{everywhere.share_host}:8000")
    anything = policy(tmp_path, allow_hosts="*")
    assert anything.host_allowed("evil.example") and anything.warnings


def test_identities_are_signed_with_a_secret_kept_in_the_data_dir(tmp_path: Path) -> None:
    first = policy(tmp_path)
    identity, cookie = first.new_identity()
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
    assert policy(tmp_path).verify_identity(cookie) == identity  # the same secret again
    assert first.verify_identity(identity + ".bad") is None
    other = SecurityPolicy.from_settings(Settings(data_dir=tmp_path / "elsewhere"))
    assert other.verify_identity(cookie) is None
    in_memory = policy(tmp_path / "mem", persist=False)
    assert not (tmp_path / "mem" / "secret").exists()
    assert in_memory.verify_identity(cookie) is None
