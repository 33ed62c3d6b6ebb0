"""Shared fixtures and the socket guard: no test may reach the network.

Connections are allowed only to loopback addresses (Dask's LocalCluster, Chromium's
DevTools pipe) and Unix sockets; anything else raises immediately.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class NetworkBlocked(RuntimeError):
    """A test tried to reach the network."""


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # AF_UNIX path
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", "", "0.0.0.0"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        raise NetworkBlocked(f"network access blocked in tests: connect to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(address):
        raise NetworkBlocked(f"network access blocked in tests: connect to {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost", "127.0.0.1", "::1", "0.0.0.0", "") and not str(host).startswith("127."):
        raise NetworkBlocked(f"network access blocked in tests: resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _socket_guard():
    """Block every non-loopback connection for the whole session."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty provider cache."""
    monkeypatch.setenv("RMPBT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def shared_data_dir() -> Path | None:
    """The real data folder (env RMPBT_SHARED_DATA, else ../shared/data), or None."""
    env = os.environ.get("RMPBT_SHARED_DATA")
    cands = [Path(env)] if env else []
    cands.append(REPO.parent / "shared" / "data")
    for c in cands:
        if (c / "prices" / "SPY.csv").exists():
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when it is absent."""
    d = shared_data_dir()
    if d is None:
        pytest.skip("real data folder ../shared/data not present (set RMPBT_SHARED_DATA)")
    return d
