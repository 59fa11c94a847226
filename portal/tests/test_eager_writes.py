"""Twisted's server sockets write at once when nothing is queued, and fall back to its queue otherwise."""

import socket

import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Protocol

from portal.eager_writes import install


class Reactor:
    """Records the registrations a real reactor would act on."""

    def __init__(self) -> None:
        self.writers: list = []

    def addWriter(self, fd) -> None:
        self.writers.append(fd)

    def removeWriter(self, fd) -> None:
        if fd in self.writers:
            self.writers.remove(fd)

    def addReader(self, fd) -> None:
        pass

    def removeReader(self, fd) -> None:
        pass


@pytest.fixture
def connection():
    install()
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.settimeout(2)
    reactor = Reactor()
    server = tcp.Server(ours, Protocol(), ("127.0.0.1", 1), None, 1, reactor)
    server.connected = 1
    yield server, peer, reactor
    ours.close()
    peer.close()


def read_exactly(peer: socket.socket, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        got += peer.recv(size - len(got))
    return bytes(got)


def test_a_write_with_nothing_queued_is_sent_at_once(connection):
    server, peer, reactor = connection
    server.write(b"data: one\n\n")
    server.writeSequence([b"data: ", b"two\n\n"])
    assert read_exactly(peer, 22) == b"data: one\n\ndata: two\n\n"
    assert reactor.writers == []  # no epoll registration, no extra turn of the loop


def test_what_the_socket_cannot_take_is_queued_in_order(connection):
    server, peer, reactor = connection
    big = bytes(range(256)) * 40_000  # 10 MB: more than a socket buffer holds
    server.write(big)
    assert reactor.writers == [server] and server._tempDataBuffer  # the rest waits for the socket
    server.writeSequence([b"after", b"wards"])  # queued behind it, not sent ahead of it
    received = bytearray()
    while server._tempDataBuffer or server.offset < len(server.dataBuffer):
        received += peer.recv(1 << 20)
        assert server.doWrite() is None
    received += read_exactly(peer, len(big) + 10 - len(received))
    assert bytes(received) == big + b"afterwards"


def test_a_closed_peer_goes_down_twisteds_path(connection):
    server, peer, reactor = connection
    peer.close()
    server.write(b"lost")  # send() fails: queued, and doWrite reports the lost connection
    assert reactor.writers == [server]
    assert server.doWrite() is not None
