"""The one way a webhook leaves the bank: resolve the receiver's host once, refuse it when any address it resolves
to is internal (loopback, private, link-local, multicast, reserved, unspecified — domain.address_problem) and not
in the bank's allowlist, then connect to exactly the address that was checked. The request still names the host
(the Host header, and TLS's SNI and certificate check), so virtual hosts and certificates work as usual; a DNS
answer that changes between the check and the connection (DNS rebinding) cannot redirect the request, because no
second lookup is made. Redirects are answers, never followed; proxies from the environment are not used (the
proxy would resolve the name again).

Why not urllib: it resolves the name itself when it connects, after any check we could make.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from creditplan.integration import domain

#: How much of a receiver's answer is kept and shown to administrators: enough to read an error message, not a
#: page of an internal system.
RESPONSE_EXCERPT = 200


class Refused(Exception):
    """The target is not allowed: nothing was sent, no connection was made."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, cannot connect, timeout)
    excerpt: str
    error: str
    refused: bool = False


def resolve(host: str, port: int) -> list[domain.Address]:
    """Every address `host` stands for, in the resolver's order, each once (a literal address: itself)."""
    literal = domain.literal_address(host)
    if literal is not None:
        return [literal]
    out: list[domain.Address] = []
    for family, _type, _proto, _name, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in out:
            out.append(address)
    return out


def refusal(target: domain.Target, addresses: Sequence[domain.Address],
            allowed: Sequence[domain.Network]) -> Refused | None:
    """Why the target may not be posted to (the first address at fault), or None. The message says what kind of
    address, not which: the log is read by administrators, not by whoever maps the internal network."""
    for address in addresses:
        kind = domain.address_problem(address, allowed)
        if kind is not None:
            spelled = "is" if domain.literal_address(target.host) is not None else "resolves to"
            return Refused(f"refused: the receiver's host {spelled} a {kind} address; webhooks go to public "
                           "addresses, or to the bank's own networks listed in CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS",
                           "webhook_address_refused")
    return None


def check(target: domain.Target, allowed: Sequence[domain.Network]) -> list[domain.Address]:
    """The addresses to connect to, all allowed; Refused when any is not; OSError when the name does not resolve."""
    addresses = resolve(target.host, target.port)
    if not addresses:
        raise OSError(f"{target.host} has no IPv4 or IPv6 address")
    problem = refusal(target, addresses, allowed)
    if problem is not None:
        raise problem
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a fixed address; the Host header still names the host."""

    def __init__(self, host: str, port: int, address: domain.Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address; SNI and the certificate check use the host name."""

    def __init__(self, host: str, port: int, address: domain.Address, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _connection(target: domain.Target, address: domain.Address, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPS(target.host, target.port, address, timeout, ssl.create_default_context())
    return _PinnedHTTP(target.host, target.port, address, timeout)


def post(target: domain.Target, body: bytes, headers: dict[str, str], timeout: float,
         allowed: Sequence[domain.Network]) -> Answer:
    """POST `body` to the target after the address check. Never raises."""
    try:
        addresses = check(target, allowed)
    except Refused as exc:
        return Answer(None, "", exc.message, refused=True)
    except (OSError, UnicodeError) as exc:
        return Answer(None, "", f"cannot resolve {target.host}: {exc}"[:500])
    last = ""
    for address in addresses:  # each was checked; the next one only when this one cannot be reached
        conn = _connection(target, address, timeout)
        try:
            try:
                conn.connect()
            except TimeoutError:
                last = f"no answer within {timeout:g} s (timeout)"
                continue
            except OSError as exc:
                last = f"cannot connect: {exc}"[:500]
                continue
            conn.request("POST", target.path, body=body, headers=headers)
            resp = conn.getresponse()
            status, reason = int(resp.status), str(resp.reason or "")
            if 300 <= status < 400:  # the status line only: where it points is not followed, nor shown
                return Answer(status, "", f"HTTP {status} {reason}: redirects are not followed — give the "
                                          "receiver's final URL"[:500])
            excerpt = resp.read(RESPONSE_EXCERPT).decode("utf-8", "replace")
            return Answer(status, excerpt, "" if 200 <= status < 300 else f"HTTP {status} {reason}"[:500])
        except TimeoutError:
            return Answer(None, "", f"no answer within {timeout:g} s (timeout)")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return Answer(None, "", f"{type(exc).__name__}: {exc}"[:500])
        finally:
            conn.close()
    return Answer(None, "", last or "cannot connect")
