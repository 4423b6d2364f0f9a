"""Serving plumbing the HTTP benchmarks share: a free port, whether a server answers /healthz,
the environment of a `hotline serve` of a benchmark, and wrk (the load generator, written in C:
it drives thousands of requests a second from a fraction of one core, so it takes little of
the server's CPU on this 2-core machine) with a Lua script, its figures read back as JSON."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK = shutil.which("wrk")
WRK_MISSING = "wrk is not installed (Debian: apt-get install -y wrk)"
INTAKE_LUA = Path(__file__).with_name("intake.lua")


def free_port() -> int:
    """A TCP port nothing listens on now (the system's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int, path: str = "/healthz") -> bool:
    """Whether a server on 127.0.0.1:`port` answers `path` with 200."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def serve_env(database_url: str, instance: Path, **hotline: str) -> dict[str, str]:
    """This process's environment without its HOTLINE_ settings, plus the database, an
    instance folder, a secret key and `hotline` (e.g. REDIS_URL=…, as HOTLINE_REDIS_URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {"HOTLINE_DATABASE_URL": database_url, "HOTLINE_SECRET_KEY": "bench",
            "HOTLINE_INSTANCE_PATH": str(instance), "HOTLINE_LOG_LEVEL": "WARNING"}
    env |= {f"HOTLINE_{k}": v for k, v in hotline.items()}
    return env


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the processes of process group `pgid` (a
    server's gunicorn arbiter and its worker): a figure per request that the machine's other
    load does not inflate as it does latencies."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; utime and stime are fields 14 and 15 of stat
            total += int(fields[11]) + int(fields[12])
    return total / tick


@dataclass
class WrkRun:
    """What one wrk run saw (latencies in milliseconds)."""

    connections: int
    seconds: float
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]  # every status seen, e.g. {"201": 1500}
    socket_errors: int  # connect, read, write and timeout errors

    def as_dict(self) -> dict[str, Any]:
        return {"connections": self.connections, "seconds": self.seconds,
                "requests": self.requests, "per_second": round(self.per_second, 1),
                "p50_ms": round(self.p50_ms, 2), "p99_ms": round(self.p99_ms, 2),
                "max_ms": round(self.max_ms, 1), "statuses": self.statuses,
                "socket_errors": self.socket_errors}


def wrk_start(port: int, connections: int, seconds: float, script: Path, *script_args: str,
              path: str = "/", cpu: str | None = None) -> subprocess.Popen[str]:
    """Start wrk against 127.0.0.1:`port` (one thread per 4 connections, at most 2), pinned
    to the CPUs `cpu` names (taskset's list, e.g. "1") when given; `wrk_result` reads it."""
    assert WRK is not None, WRK_MISSING
    threads = max(1, min(2, connections // 4))
    args = [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}{path}", "--",
            *script_args]
    if cpu is not None:
        args = ["taskset", "-c", cpu, *args]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wrk_result(proc: subprocess.Popen[str], connections: int, seconds: float) -> WrkRun:
    """Wait for a wrk started by `wrk_start` and read the JSON line its script's `done`
    printed (prefixed "WRK_JSON ")."""
    out, err = proc.communicate(timeout=seconds + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out[-2000:]}{err[-2000:]}")
    line = next((x for x in out.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures: {out[-2000:]}{err[-2000:]}")
    got = json.loads(line.removeprefix("WRK_JSON "))
    return WrkRun(connections=connections, seconds=got["duration_us"] / 1e6,
                  requests=got["requests"],
                  per_second=got["requests"] / (got["duration_us"] / 1e6),
                  p50_ms=got["p50_us"] / 1000, p99_ms=got["p99_us"] / 1000,
                  max_ms=got["max_us"] / 1000,
                  statuses={k: v for k, v in got["statuses"].items() if v},
                  socket_errors=sum(got["errors"].values()))


def wrk(port: int, connections: int, seconds: float, script: Path, *script_args: str,
        path: str = "/", cpu: str | None = None) -> WrkRun:
    """One wrk run to its end (see `wrk_start`)."""
    proc = wrk_start(port, connections, seconds, script, *script_args, path=path, cpu=cpu)
    return wrk_result(proc, connections, seconds)
