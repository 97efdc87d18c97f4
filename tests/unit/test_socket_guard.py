"""Tests may reach this machine only: pytest-socket (pyproject's addopts) lets a
connect() through to loopback and Unix sockets and refuses every other address."""

from __future__ import annotations

import socket

import pytest
import pytest_socket


@pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")
def test_connect_is_guarded_and_refuses_other_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    # checked first, so that nothing below can ever reach the network unguarded
    assert socket.socket.connect is not pytest_socket._true_connect, "sockets are not guarded"
    reached: list[object] = []
    monkeypatch.setattr(pytest_socket, "_true_connect", lambda inst, *a: reached.append(a))
    with pytest.raises(pytest_socket.SocketConnectBlockedError):
        # TEST-NET-1 (documentation range); the guard refuses before any packet
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("192.0.2.1", 9))
    assert reached == []


def test_loopback_is_allowed() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        with socket.create_connection(server.getsockname(), timeout=10):
            conn, _ = server.accept()
            conn.close()
    finally:
        server.close()
