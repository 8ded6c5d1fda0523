"""Connections of this process whose client stalled mid-request, found by the kernel and shut.

granian reads a request body for the app with no deadline (simulator/server.py), and tells the
app nothing of the connection (not even the client's port), so the app cannot close it. The
kernel can tell: for each TCP connection this process accepted, ``TCP_INFO`` says how long ago
data last came in and last went out. A connection that has received nothing for the timeout
and sent nothing since (nothing ever, or its last send a clock tick or more before its last
receive) is waiting on its client: a body that stopped, or a request still being answered (a
proxied one whose upstream is slow). A keep-alive connection at rest sent its last answer after
its last request, and an event stream its head, so neither is one. A request on a kept-alive
connection that stalls within the tick of the last answer is missed (left, never shut
wrongly). ``shut`` shuts such connections down (``shutdown``, not ``close``: granian keeps
its descriptor, and its read ends at once, with what had come).

Linux only (``/proc/self/fd`` and the layout of ``struct tcp_info``); elsewhere ``supported``
is false and bodies have no timeout.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Iterator

TCP_ESTABLISHED, TCP_CLOSE_WAIT, TCP_LISTEN = 1, 8, 10
# struct tcp_info (linux/tcp.h) up to tcpi_bytes_received: 8 bytes, then 24 32-bit fields
# (rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans, fackets, last_data_sent,
# last_ack_sent, last_data_recv, ...: the "last" ones in milliseconds), then pacing_rate,
# max_pacing_rate, bytes_acked, bytes_received (64-bit)
_INFO = struct.Struct("=8B24I4Q")
_LAST_DATA_SENT, _LAST_DATA_RECV, _BYTES_ACKED = 8 + 9, 8 + 11, 8 + 24 + 2


def supported() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


def _sockets() -> Iterator[socket.socket]:
    """A duplicate of each TCP socket of this process (closed by the caller)."""
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:  # gone meanwhile
            continue
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            yield sock
        else:
            sock.close()


def _info(sock: socket.socket) -> tuple[int, ...] | None:
    try:
        return _INFO.unpack(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _INFO.size))
    except (OSError, struct.error):
        return None


def shut(silent_ms: int, most: int) -> int:
    """Shut down at most ``most`` connections accepted on this process's listening sockets
    that have received nothing for ``silent_ms`` and sent nothing since, the longest silent
    first; how many were shut."""
    listening: set[int] = set()
    candidates: list[tuple[int, socket.socket]] = []
    try:
        for sock in _sockets():
            info = _info(sock)
            if info is None:
                sock.close()
            elif info[0] == TCP_LISTEN:
                listening.add(sock.getsockname()[1])
                sock.close()
            elif (
                info[0] in (TCP_ESTABLISHED, TCP_CLOSE_WAIT)
                and info[_LAST_DATA_RECV] >= silent_ms
                and (info[_BYTES_ACKED] == 0 or info[_LAST_DATA_SENT] > info[_LAST_DATA_RECV])
            ):
                candidates.append((info[_LAST_DATA_RECV], sock))
            else:
                sock.close()
        candidates.sort(key=lambda pair: pair[0], reverse=True)
        shut_down = 0
        for _, sock in candidates:
            if shut_down < most and sock.getsockname()[1] in listening:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    shut_down += 1
                except OSError:
                    pass
        return shut_down
    finally:
        for _, sock in candidates:
            sock.close()
