"""Processes and sockets as Linux's /proc shows them: the descendants of a process, whether a PID still runs, and
the listening TCP sockets a set of processes holds (for the cluster, fault and security tests); and a search
driver held still (SIGSTOP) while a test looks at its database and acts (`step_until`).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import time
from collections.abc import Callable
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


def _stopped(pid: int) -> bool:
    """Whether the main thread of `pid` (where a search driver's Tune loop runs and writes) is stopped, or the
    process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2:].split()[0] in ("T", "t", "Z", "X")


def stop(pid: int) -> None:
    """SIGSTOP `pid` and wait until it is stopped."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return
    while not _stopped(pid):
        time.sleep(0.001)


def resume(pid: int) -> None:
    """SIGCONT `pid` (nothing if it is gone)."""
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def step_until(pid: int, pred: Callable[[], bool], what: str, *, ready: Callable[[], bool] | None = None,
               timeout: float = 240.0, run_s: float = 0.02) -> None:
    """Let the search driver `pid` run in short steps, stopped (SIGSTOP) between them, until `pred()` holds while
    it is stopped; return with it still stopped: the caller acts on what `pred` saw, then calls `resume(pid)`.
    With `ready`, the driver first runs freely until `ready()` holds (the study stored as running: its database
    is then in WAL mode, where a read never waits for the writer, stopped or not; before, while the database is
    being created, a read could wait for a lock that a stopped driver holds). AssertionError when the driver ends
    first, or after `timeout` seconds (a stalled run).

    Why a stopped driver: it is what moves a search on. A Ray Tune trial hands each result (its node, each epoch,
    its final result) to the driver and waits until the driver has taken it before it trains on (ray.train's
    report/continue handshake), and the driver stores each result as it takes it. So while the driver is stopped
    no trial can end, every trial is at most a report or two ahead of what the database shows, and a state the
    test has read (a trial running with epochs left, one finished) still holds when it acts on it, however fast
    or slow the machine: the test never races the search to a state it has already seen. Between two looks the
    driver runs for `run_s`, a small part of what any trial here takes to pass through the states looked for.
    """
    deadline = time.monotonic() + timeout

    def check() -> None:
        if not alive(pid):
            raise AssertionError(f"the driver ended before {what}")
        if time.monotonic() > deadline:
            resume(pid)
            raise AssertionError(f"timed out waiting for {what}")

    while ready is not None and not ready():
        check()
        time.sleep(0.02)
    stop(pid)
    while True:
        try:
            if pred():
                return
        except BaseException:
            resume(pid)
            raise
        check()
        resume(pid)
        time.sleep(run_s)
        stop(pid)


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
