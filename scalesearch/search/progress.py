"""The live progress of a search: a status line redrawn in place on a terminal, one plain line per event otherwise.

On a terminal, events (a trial started, ended, was rejected) scroll above a status line that is redrawn every
second: trials done of planned, running, failed, stopped early (pruned by ASHA), rejected, the best value so far,
elapsed time and the estimated time left. In a pipe or a log file, every event is one line with the same counters,
so that `scalesearch run ... | tee log` reads well and `grep` finds things. `Counts` and `Progress` are what the
driver reports: the counters, and the events (the base class ignores them).
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from scalesearch.util.text import fmt_duration

__all__ = ["Counts", "LineProgress", "Progress", "TerminalProgress", "make_progress", "status_text"]


@dataclass
class Counts:
    """Trials by state in this study (all runs), the best so far and the planned total."""

    completed: int = 0
    failed: int = 0
    stopped: int = 0
    rejected: int = 0
    running: int = 0
    queued: int = 0
    interrupted: int = 0
    planned: int | None = None  # jobs the search will train in all (None: unknown)
    best: float | None = None
    best_label: str = ""
    objective: str = "val_acc"
    started: float = field(default_factory=time.monotonic)
    done_this_run: int = 0
    budget_s: float | None = None

    @property
    def done(self) -> int:
        """Jobs that ended (completed, failed, stopped)."""
        return self.completed + self.failed + self.stopped

    def eta_s(self) -> float | None:
        """Estimated seconds left: the jobs left at this run's rate, capped by the time budget."""
        elapsed = time.monotonic() - self.started
        left = None
        if self.planned is not None and self.done_this_run > 0:
            remaining = max(0, self.planned - self.done)
            left = elapsed / self.done_this_run * remaining
        if self.budget_s is not None and left is not None:
            left = min(left, max(0.0, self.budget_s - elapsed))
        return left


class Progress:
    """The driver's events; `scalesearch.search.progress` draws them. This base class ignores them."""

    def begin(self, info: Mapping[str, Any], counts: Counts) -> None:
        """The search starts (info: study, db, sampler, concurrency, ray address...)."""

    def event(self, kind: str, text: str, counts: Counts) -> None:
        """Something happened: kind is started, epoch, completed, failed, stopped, rejected, note."""

    def end(self, counts: Counts) -> None:
        """The search ended."""


def status_text(c: Counts, *, final: bool = False) -> str:
    """The counters as one line: done/planned, running, failed, pruned, rejected, best, elapsed, ETA (not when
    `final`)."""
    planned = f"/{c.planned}" if c.planned is not None else ""
    parts = [f"done {c.done}{planned}", f"running {c.running}", f"failed {c.failed}", f"pruned {c.stopped}",
             f"rejected {c.rejected}"]
    if c.best is not None:
        parts.append(f"best {c.objective} {c.best:.4g} ({c.best_label.split(' ', 1)[0]})")
    parts.append(f"elapsed {fmt_duration(time.monotonic() - c.started)}")
    eta = None if final else c.eta_s()
    if not final and (c.running or c.queued or eta):
        parts.append(f"ETA {fmt_duration(eta)}")
    return ", ".join(parts)


def _intro(info: Mapping[str, Any]) -> str:
    ray = f"local Ray {info['ray']}" if info.get("started_ray") else f"Ray at {info['ray']}"
    budget = f", time budget {fmt_duration(info['budget_s'])}" if info.get("budget_s") is not None else ""
    verb = "resuming" if info.get("resumed") else "running"
    return (f"{verb} study {info['study']}: {info['sampler']} sampler, {info['repeats']} repeat(s), "
            f"{info['concurrency']} at a time on {ray}{budget}; results in {info['db']}")


class LineProgress(Progress):
    """One plain line per event (not per epoch): for pipes and log files."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.t0 = time.monotonic()

    def _line(self, text: str) -> None:
        elapsed = fmt_duration(time.monotonic() - self.t0)
        self.out.write(f"[{elapsed:>6}] {text}\n")
        self.out.flush()

    def begin(self, info: Mapping[str, Any], counts: Counts) -> None:
        self.t0 = time.monotonic()
        self._line(_intro(info))

    def event(self, kind: str, text: str, counts: Counts) -> None:
        if kind == "epoch":
            return
        self._line(f"{text} | {status_text(counts)}")

    def end(self, counts: Counts) -> None:
        self._line(f"search ended | {status_text(counts, final=True)}")


class TerminalProgress(Progress):
    """Events scroll; a status line at the bottom is redrawn in place (and every second by a thread)."""

    def __init__(self, out: TextIO, refresh_s: float = 1.0) -> None:
        self.out = out
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._counts: Counts | None = None
        self._epochs: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _status(self) -> str:
        assert self._counts is not None
        line = status_text(self._counts)
        width = shutil.get_terminal_size((120, 24)).columns
        return line if len(line) < width else line[: max(10, width - 2)] + "…"

    def _draw(self, above: str | None = None) -> None:
        with self._lock:
            if above is not None:
                self.out.write("\r\033[K" + above + "\n")
            if self._counts is not None:
                self.out.write("\r\033[K" + self._status())
            self.out.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self._draw()

    def begin(self, info: Mapping[str, Any], counts: Counts) -> None:
        self._counts = counts
        self._draw(_intro(info))
        self._thread = threading.Thread(target=self._tick, name="scalesearch-progress", daemon=True)
        self._thread.start()

    def event(self, kind: str, text: str, counts: Counts) -> None:
        self._counts = counts
        self._draw(None if kind == "epoch" else text)

    def end(self, counts: Counts) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._counts = counts
        with self._lock:
            self.out.write("\r\033[K" + status_text(counts, final=True) + "\n")
            self.out.flush()


def make_progress(out: TextIO | None = None) -> Progress:
    """A terminal display when `out` (default stdout) is a terminal, plain lines otherwise."""
    out = out or sys.stdout
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    return TerminalProgress(out) if tty else LineProgress(out)
