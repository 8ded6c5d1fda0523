"""Where a webhook may go: judged on the address the delivery will connect to.

A URL is refused when two parsers could read it differently (a backslash, userinfo, spaces or
control characters, or a host that ``urllib.parse`` and urllib3, the HTTP client's own parser,
do not agree on). Its host is then resolved, numerically first (so ``2130706433``, ``0x7f.1``,
``[::ffff:127.0.0.1]`` are the addresses they spell), and every address must be allowed: in an
allowed network, or the host allowed by name, or ``*``. Whatever the allow-list says, none may
be the simulator's own listening address (a webhook to ``/_sim/reset`` would let any API key
reset the simulator) nor link-local (cloud metadata) unless a network in the list names it.
Names are resolved only when allowed by name or by ``*``: an untrusted name costs no DNS wait.

The delivery then connects to a checked address (plain HTTP: the URL is pinned to it, the Host
header keeps the name), and follows no redirect.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from urllib3.util import parse_url

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int, bool], list[str]]
LOOPBACK = ("localhost", "127.0.0.0/8", "::1")
_THIS_HOST = ("127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128")
_LINK_LOCAL = ("169.254.0.0/16", "fe80::/10")
_ODD = set("\\ \t\r\n") | {chr(c) for c in range(32)} | {"\x7f"}


class Refused(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclasses.dataclass(frozen=True)
class Destination:
    """A checked destination: where to connect, and the Host the request names."""

    url: str
    host_header: str
    pinned_url: str  # the URL with its host replaced by a checked address (http only)


def resolve(host: str, port: int, numeric_only: bool) -> list[str]:
    """The addresses ``host`` stands for (an IP in any spelling, or a name if allowed)."""
    flags = socket.AI_NUMERICHOST if numeric_only else 0
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _address(text: str) -> Address:
    addr = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _in(addr: Address, networks: Iterable[str]) -> bool:
    for net in networks:
        try:
            if addr in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def _networks(allow: Iterable[str]) -> list[str]:
    found = []
    for entry in allow:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        found.append(entry)
    return found


@dataclasses.dataclass
class Guard:
    """The allow-list and the simulator's own listening addresses."""

    allow: list[str] = dataclasses.field(default_factory=lambda: list(LOOPBACK))
    own: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    resolver: Resolver = resolve

    def _parts(self, url: str) -> tuple[str, str, int]:
        if not isinstance(url, str) or any(c in _ODD for c in url):
            raise Refused("the URL holds characters parsers read differently (\\, spaces)")
        try:
            mine, theirs = urlsplit(url), parse_url(url)
            port = mine.port
        except ValueError as exc:
            raise Refused(f"not a URL: {exc}") from None
        if "@" in mine.netloc or mine.username is not None or theirs.auth:
            raise Refused("userinfo (user@host) is not allowed in a webhook URL")
        scheme, host = (mine.scheme or "").lower(), (mine.hostname or "").lower()
        if scheme not in ("http", "https") or not host:
            raise Refused("only http(s) URLs with a host")
        their_host = (theirs.host or "").lower().strip("[]")
        if their_host != host or (theirs.port or None) != port:
            raise Refused("the URL's host reads differently to different parsers")
        return scheme, host, port or (443 if scheme == "https" else 80)

    def _own(self, addr: Address, port: int) -> bool:
        for host, own_port in self.own:
            if port != own_port:
                continue
            mine = [host]
            if host in ("0.0.0.0", "::", ""):
                mine = self.resolver(socket.gethostname(), port, False)
            if _in(addr, _THIS_HOST) or any(_same(addr, m) for m in mine):
                return True
        return False

    def check(self, url: str) -> Destination:
        """The destination if ``url`` may receive webhooks; Refused saying why otherwise."""
        scheme, host, port = self._parts(url)
        names = {a.lower() for a in self.allow if a != "*" and not _networks([a])}
        networks = _networks(self.allow)
        anything = "*" in self.allow
        by_name = host in names
        found = self.resolver(host, port, True)
        if not found and (anything or by_name):
            found = self.resolver(host, port, False)
        if not found:
            raise Refused(
                f"{host} is not an allowed host"
                if not (anything or by_name)
                else f"{host} does not resolve"
            )
        addresses = [_address(a) for a in found]
        for addr in addresses:
            if self._own(addr, port):
                raise Refused(f"{addr}:{port} is the simulator's own address")
            if _in(addr, _LINK_LOCAL) and not _in(addr, networks):
                raise Refused(f"{addr} is link-local (metadata services live there)")
            if not (anything or by_name or _in(addr, networks)):
                raise Refused(f"{host} is {addr}, not an allowed address")
        return Destination(url, _host_header(url), _pinned(url, scheme, addresses[0], port))


def _same(addr: Address, text: str) -> bool:
    try:
        return addr == _address(text)
    except ValueError:
        return False


def _host_header(url: str) -> str:
    return urlsplit(url).netloc


def _pinned(url: str, scheme: str, addr: Address, port: int) -> str:
    if scheme != "http":
        return url  # TLS needs the name for SNI and the certificate: not pinned
    parts = urlsplit(url)
    shown = f"[{addr}]" if addr.version == 6 else str(addr)
    return parts._replace(netloc=f"{shown}:{port}").geturl()
