"""Twisted's TCP server sockets write at once when nothing is queued, instead of always queueing.

Twisted queues every write and asks epoll to say when the socket can take it: two epoll_ctl calls and
one more turn of the event loop for each relayed chunk or response, though the socket can almost
always take it straight away. Here a write with nothing queued before it goes to send() directly;
whatever send() does not take (a full socket buffer, an error) goes down Twisted's own path, so order,
back-pressure and the reporting of a lost connection stay Twisted's."""

from collections.abc import Iterable

from twisted.internet import tcp


def install() -> None:
    """Patch twisted.internet.tcp.Server; idempotent."""
    if getattr(tcp.Server, "_tollgate_eager", False):
        return
    queued_write, queued_write_sequence = tcp.Server.write, tcp.Server.writeSequence

    def write(self: tcp.Server, data: bytes) -> None:
        if (
            data
            and not self.TLS
            and self.connected
            and not self.disconnecting
            and not self._writeDisconnected
            and not self._tempDataBuffer
            and self.offset >= len(self.dataBuffer)
            and isinstance(data, bytes)
        ):
            sent = self.writeSomeData(data)
            if isinstance(sent, int):
                if sent == len(data):
                    return
                data = data[sent:]
        queued_write(self, data)  # the rest, or a lost connection for doWrite to report

    def writeSequence(self: tcp.Server, iovec: Iterable[bytes]) -> None:
        if self.TLS:
            return queued_write_sequence(self, iovec)
        parts = list(iovec)
        if all(isinstance(part, bytes) for part in parts):
            return write(self, b"".join(parts))
        return queued_write_sequence(self, parts)  # Twisted's own TypeError

    tcp.Server.write, tcp.Server.writeSequence = write, writeSequence
    tcp.Server._tollgate_eager = True
