"""The target guard: probes reach public addresses only, checked at the address connected to.

A probe resolves its target once, checks every address it got, and connects to that very
address; the name stays the ``Host`` header and the TLS server name. So a DNS answer that
changes between check and connect (rebinding) cannot slip a private address through, and every
redirect hop opens a new connection that is checked again. ``connect`` serves threads (and
urllib3, through ``guarded_pool_manager``), ``open`` the probes' event loop, with the same
checks. Loopback, private (RFC 1918, fc00::/7, CGNAT), link-local (169.254.0.0/16, including
the cloud metadata address 169.254.169.254, and fe80::/10), multicast, unspecified and reserved
addresses are refused unless site.yml sets ``probe_settings.allow_private_targets: true``. An
IPv6 address that carries an IPv4 address to a translator or tunnel (IPv4-mapped
``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, IPv4-translated ``::ffff:0:a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``) is judged by the IPv4 address it carries; local-use NAT64
(``64:ff9b:1::/48``), whose carried address depends on the network's own prefix, is refused.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

import msgspec
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection

_HOW_TO_ALLOW = ("probes reach public addresses only, unless site.yml sets probe_settings.allow_private_targets: "
                 "true (or lists the network under probe_settings.allowed_private_networks)")


def checked_networks(networks) -> tuple[str, ...]:
    """``networks`` as given, each checked to be an address with a prefix (``ValueError`` naming the bad one)."""
    for network in networks:
        try:
            ipaddress.ip_network(network)
        except ValueError:
            raise ValueError(f"{network!r} is not a network; write it as an address with a prefix, "
                             f"e.g. '10.20.0.0/16'") from None
    return tuple(networks)


def in_networks(host: str, networks) -> bool:
    """Whether ``host`` is an IP literal inside one of ``networks``."""
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in networks)


class TargetRefused(Exception):
    """The target resolves to an address probes may not reach."""


def refusal_reason(address: str) -> str | None:
    """Why probes may not reach ``address`` (an IP literal), or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return "a local-use NAT64 address (64:ff9b:1::/48), which leads into a private network"
        carried = carried_ipv4(ip)
        if carried is not None:
            inner, form = carried
            reason = _reason(inner)
            if reason:
                return f"{reason}: {inner} carried in {form}"
    return _reason(ip)


def carried_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address hands to a translator or tunnel, and the form's name."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "an IPv4-mapped address"
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are IPv6's own unspecified and loopback
        return low32, "an IPv4-compatible address"
    if ip in _IPV4_TRANSLATED:
        return low32, "an IPv4-translated address"
    if ip in _NAT64:
        return low32, "a NAT64 address"
    if ip.sixtofour is not None:
        return ip.sixtofour, "a 6to4 address"
    return None


def _reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        metadata = " (the cloud metadata service)" if str(ip) == "169.254.169.254" else ""
        return f"a link-local address{metadata}"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or ip in _CGNAT:
        return "a private address"
    if not ip.is_global:
        return "a reserved address"
    return None


_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


class TargetGuard(msgspec.Struct, frozen=True):
    allow_private: bool = False
    # Private networks allowed one by one (an internal service), e.g. ("10.20.0.0/16",).
    allowed_networks: tuple[str, ...] = ()

    def check(self, host: str, address: str) -> None:
        if self.allow_private:
            return
        reason = refusal_reason(address)
        if reason and not self._allowed(address):
            shown = f"{host} is" if host == address else f"{host} resolves to {address},"
            raise TargetRefused(f"refused: {shown} {reason}; {_HOW_TO_ALLOW}")

    def _allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        carried = carried_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
        candidates = [ip] if carried is None else [ip, carried[0]]
        return any(candidate in ipaddress.ip_network(network)
                   for candidate in candidates for network in self.allowed_networks)

    def resolve(self, host: str, port: int) -> list[tuple]:
        """Every (family, type, proto, canonname, sockaddr) of ``host``, each address checked."""
        infos = literal_address(host, port)
        if infos is None:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise NameNotResolved(f"{host} does not resolve ({exc.strerror})") from None
        for info in infos:
            self.check(host, info[4][0])
        return infos

    def connect(self, host: str, port: int, timeout: float | None, socket_options=None) -> socket.socket:
        """Resolve once, check, connect to the checked address itself."""
        last_error: OSError | None = None
        for family, kind, proto, _, sockaddr in self.resolve(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                last_error = exc
        raise last_error or OSError(f"{host} has no address")

    async def open(self, loop, host: str, port: int, lookup: Callable[[str, int], Awaitable[list[tuple]]]
                   ) -> socket.socket:
        """``connect`` on an event loop, without a timeout of its own (the caller's covers the exchange).

        ``lookup`` answers as ``getaddrinfo`` does, off the loop (``NameNotResolved`` when the name
        does not resolve); an IP literal needs no lookup. Every address is checked here, before any
        connection is opened.
        """
        infos = literal_address(host, port) or await lookup(host, port)
        for info in infos:
            self.check(host, info[4][0])
        last_error: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                last_error = exc
            except BaseException:  # cancelled: the probe's timeout or the cycle's deadline
                sock.close()
                raise
        raise last_error or OSError(f"{host} has no address")


def literal_address(host: str, port: int) -> list[tuple] | None:
    """``getaddrinfo``'s answer for an IP literal, without asking the resolver; None for a name."""
    if "%" in host:  # a scoped IPv6 address: the resolver knows its interface
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 4:
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
    return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))]


class NameNotResolved(OSError):
    pass


def _guarded_connection(base: type, guard: TargetGuard) -> type:
    class GuardedConnection(base):
        def _new_conn(self) -> socket.socket:
            try:
                return guard.connect(self._dns_host, self.port, self.timeout, self.socket_options)
            except TargetRefused:
                raise
            except socket.timeout as exc:
                from urllib3.exceptions import ConnectTimeoutError

                raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from exc
            except NameNotResolved as exc:
                from urllib3.exceptions import NameResolutionError

                raise NameResolutionError(self.host, self, socket.gaierror(str(exc))) from exc
            except OSError as exc:
                from urllib3.exceptions import NewConnectionError

                raise NewConnectionError(self, f"cannot connect to {self.host}: {exc}") from exc

    GuardedConnection.__name__ = f"Guarded{base.__name__}"
    return GuardedConnection


def guarded_pool_manager(guard: TargetGuard, *, maxsize: int = 1, ca_certs: str | None = None,
                         num_pools: int = 1000) -> PoolManager:
    """A urllib3 PoolManager whose every connection, redirect hops included, goes through ``guard``."""
    http_conn = _guarded_connection(HTTPConnection, guard)
    https_conn = _guarded_connection(HTTPSConnection, guard)

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = http_conn

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = https_conn

    manager = PoolManager(num_pools=num_pools, maxsize=maxsize, ca_certs=ca_certs,
                          cert_reqs="CERT_REQUIRED")
    manager.pool_classes_by_scheme = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}
    return manager
