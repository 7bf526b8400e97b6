"""Processes and sockets as Linux's /proc shows them: the descendants of a process, whether a PID still runs, and
the listening TCP sockets a set of processes holds (for the cluster, fault and security tests)."""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path


def _parents() -> dict[int, int]:
    out: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
                out[int(d)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return out


def descendants(root: int) -> set[int]:
    """Every live descendant of process `root`."""
    parent = _parents()
    out: set[int] = set()
    todo = [root]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in out:
                out.add(c)
                todo.append(c)
    return out


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def wait_gone(pids: set[int], timeout: float) -> set[int]:
    """Wait until none of `pids` runs; returns those still running after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    left = {p for p in pids if alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = {p for p in left if alive(p)}
    return left


def listening(pids: set[int]) -> list[tuple[int, str]]:
    """(pid, "ip:port") of every listening TCP socket (IPv4 and IPv6) the processes hold."""
    listen: dict[str, str] = {}
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[3] != "0A":  # TCP_LISTEN
                continue
            hexip, port = f[1].split(":")
            raw = bytes.fromhex(hexip)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # each 32-bit word is little-endian
            if v6:
                a6 = ipaddress.IPv6Address(raw)
                ip = str(a6.ipv4_mapped or a6)
            else:
                ip = str(ipaddress.IPv4Address(raw))
            listen[f[9]] = f"{ip}:{int(port, 16)}"
    out = []
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in listen:
                    out.append((pid, listen[link[8:-1]]))
        except OSError:
            continue
    return sorted(set(out))
