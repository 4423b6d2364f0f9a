"""The private servers of the load-with-faults benchmark (tests/bench/test_bench_faults.py).

A PostgreSQL cluster of its own (initdb into a temporary folder, its own port and socket
folder, trust auth), a redis-server of its own on its own port, and the distributed mode as the
README runs it: two `hotline serve` processes, the Celery worker with its beat (`hotline
worker`). Each process runs in its own process group, so a fault kills all of it (gunicorn's
worker, Celery's pool children) and the clean-up leaves nothing behind. Nothing here touches
the shared PostgreSQL on 5432 or the Redis on 6379.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = Path(sys.executable).with_name("hotline")


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll `check` until it returns something true; RuntimeError after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(preferred: int) -> int:
    """`preferred` when nothing listens there, else a free port the system gives."""
    if port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class PrivatePostgres:
    """A PostgreSQL cluster of this run alone, in a temporary folder (removed by `destroy`).
    PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam("postgres")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self._user = {"user": entry.pw_uid, "group": entry.pw_gid}

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.dir,
                              capture_output=True, text=True, timeout=timeout, **self._user)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): "
                               f"{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale", "C", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=200 -c shared_buffers=128MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")

    def conninfo(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=5"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def destroy(self) -> None:
        """Stop the server (immediately) if it runs, and remove its folder."""
        if self.running():
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pid_file = self.data / "postmaster.pid"
                try:  # the postmaster this run started, by the pid it wrote
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Process:
    """One `hotline` command in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self.log: IO[bytes] = open(self.log_path, "ab")  # noqa: SIM115 — closed in stop
        self.log.write(f"\n=== start {time.strftime('%H:%M:%S')} {' '.join(args)}\n".encode())
        self.log.flush()
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole group (the fault), and reap it."""
        self.signal_group(signal.SIGKILL)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL what is left of the group after 15 s."""
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # the group's stragglers (pool children)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if not self.log.closed:
            self.log.close()


def hotline_command(*args: str) -> list[str]:
    """The `hotline` console script of this venv (or the same entry point through Python)."""
    if HOTLINE.exists():
        return [str(HOTLINE), *args]
    return [sys.executable, "-c", "import sys; from web.cli.main import main; sys.exit(main())",
            *args]


class Cluster:
    """The distributed mode: web processes (`hotline serve`) and the worker (`hotline worker`
    with its beat), all on the private PostgreSQL and Redis."""

    def __init__(self, env: dict[str, str], logs: Path, web_ports: list[int],
                 web_threads: int = 32) -> None:
        self.env = env
        self.logs = logs
        self.web_ports = web_ports
        self.web_threads = web_threads
        self.webs: list[Process | None] = [None] * len(web_ports)
        self.worker: Process | None = None
        self._starts: dict[str, int] = {}
        self.lock = threading.RLock()  # the faults and the supervisor start and stop processes
        # The worker's exits that no fault caused: (seconds since `t0`, log name, exit code,
        # the log's last "Unrecoverable error" line).
        self.worker_exits: list[tuple[float, str, int | None, str]] = []

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.web_ports[i]}"

    def _name(self, base: str) -> str:
        self._starts[base] = self._starts.get(base, 0) + 1
        return base if self._starts[base] == 1 else f"{base}.{self._starts[base]}"

    def answers(self, i: int) -> bool:
        try:
            return requests.get(self.url(i) + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start_web(self, i: int, timeout: float = 90) -> None:
        self.webs[i] = Process(self._name(f"web{i + 1}"), hotline_command(
            "serve", "--host", "127.0.0.1", "--port", str(self.web_ports[i]),
            "--threads", str(self.web_threads)), self.env, self.logs)
        wait_until(lambda: self.answers(i), timeout, f"web{i + 1} to answer /healthz")

    def kill_web(self, i: int) -> None:
        web = self.webs[i]
        if web is not None:
            web.kill()
            self.webs[i] = None

    def start_worker(self, concurrency: int = 2) -> None:
        with self.lock:
            self.worker = Process(self._name("worker"), hotline_command(
                "worker", "--beat", "--concurrency", str(concurrency), "--loglevel", "info"),
                self.env, self.logs)

    def worker_ready(self, timeout: float = 120) -> None:
        worker = self.worker
        assert worker is not None
        wait_until(lambda: " ready." in worker.log_path.read_text(errors="replace"), timeout,
                   f"{worker.name} to be ready", every=0.5)

    def kill_worker(self) -> None:
        with self.lock:
            if self.worker is not None:
                self.worker.kill()
                self.worker = None

    def supervise(self, t0: float, stop: threading.Event) -> threading.Thread:
        """Start the worker again when it exits by itself, as a process supervisor (systemd's
        Restart=always) would, and note why it exited."""

        def watch() -> None:
            pause = 1.0
            while not stop.wait(pause):
                pause = 1.0
                with self.lock:
                    worker = self.worker
                    if worker is None or worker.popen.poll() is None:
                        continue
                    log = worker.log_path.read_text(errors="replace").splitlines()
                    why = next((line for line in reversed(log) if "Unrecoverable error" in line),
                               log[-1] if log else "")
                    self.worker_exits.append((time.monotonic() - t0, worker.name,
                                              worker.popen.returncode, why[-240:]))
                    worker.stop()  # the pool children it left
                    self.start_worker()
                    pause = 5.0  # a supervisor's back-off between restarts

        thread = threading.Thread(target=watch, name="supervisor", daemon=True)
        thread.start()
        return thread

    def stop_all(self) -> None:
        with self.lock:
            self._stop_all()

    def _stop_all(self) -> None:
        for i, web in enumerate(self.webs):
            if web is not None:
                web.stop()
                self.webs[i] = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


def run_hotline(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """Run one `hotline` command to its end; its output (RuntimeError when it fails)."""
    done = subprocess.run(hotline_command(*args), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"hotline {' '.join(args)} failed ({done.returncode}): "
                           f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout
