"""The embedded stack's processes as `make bench` watches them: memory and CPU per part, each
summed over the part's process tree (the API's uvicorn workers, PostgreSQL's backends), read
from /proc; and `quiet()`, which waits until the stack has worked off what one part left behind,
so that the next part measures its own load and not the previous one's backlog."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

from stack.processes import EmbeddedStack

PARTS = ("api", "worker", "temporal", "postgres")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
QUIET_CPU = 0.25  # cores used by the whole stack, at most, for it to count as quiet
QUIET_WINDOW_SECONDS = 1.0


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 on (the command name, field 2, may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            children.setdefault(int(_stat_fields(int(stat.parent.name))[1]), []).append(int(stat.parent.name))
    return children


def _trees(stack: EmbeddedStack) -> dict[str, list[int]]:
    """Each part's pid and all its descendants' (none while the part is down)."""
    children = _children()
    trees = {}
    for part in PARTS:
        pid = stack.pid_of(part)
        tree = [pid] if pid is not None else []
        for member in tree:
            tree.extend(children.get(member, []))
        trees[part] = tree
    return trees


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0  # gone meanwhile


def _cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError, IndexError):
        fields = _stat_fields(pid)
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return 0.0  # gone meanwhile


def rss_mb(stack: EmbeddedStack) -> dict[str, float]:
    """Each part's resident memory (VmRSS) in MB."""
    return {part: sum(map(_rss_kb, tree)) / 1024 for part, tree in _trees(stack).items()}


def cpu_seconds(stack: EmbeddedStack) -> float:
    """The CPU seconds the stack's running processes have used so far."""
    return sum(_cpu_seconds(pid) for tree in _trees(stack).values() for pid in tree)


async def quiet(stack: EmbeddedStack, limit_seconds: float) -> float | None:
    """Wait until the stack uses less than QUIET_CPU cores over QUIET_WINDOW_SECONDS: the seconds
    that took, or None if it was still busy after `limit_seconds`."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_seconds:
        before = cpu_seconds(stack)
        await asyncio.sleep(QUIET_WINDOW_SECONDS)
        if cpu_seconds(stack) - before < QUIET_CPU * QUIET_WINDOW_SECONDS:
            return time.perf_counter() - started
    return None
