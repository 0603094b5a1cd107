"""Proxy trust: uvicorn's `--forwarded-allow-ips` (which clients' X-Forwarded-* headers count)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any


class ProxyTrust:
    """uvicorn's `--forwarded-allow-ips`: literal hosts, networks (CIDR) or "*" (any client)."""

    def __init__(self, allowed: str | Iterable[str]) -> None:
        items = [allowed] if isinstance(allowed, str) else list(allowed)
        hosts: list[str] = []
        for item in items:
            hosts.extend(part.strip() for part in item.split(","))
        self.always = "*" in hosts
        self.literals: set[str] = set()
        self.networks: list[Any] = []
        for host in hosts:
            if not host or host == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(host, strict=False))
            except ValueError:
                self.literals.add(host)  # unix socket paths, names

    def __contains__(self, host: str | None) -> bool:
        if self.always:
            return True
        if host is None:
            return False
        if host in self.literals:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    def client_host(self, forwarded_for: str) -> str | None:
        """The first untrusted host from the right of X-Forwarded-For (uvicorn's rule)."""
        hosts = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if not hosts:
            return None
        if self.always:
            return hosts[0]
        for host in reversed(hosts):
            if host not in self:
                return host
        return hosts[0]
