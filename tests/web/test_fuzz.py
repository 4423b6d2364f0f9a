"""A bounded schemathesis run against `/api/v1/openapi.json` as an operator, a dispatcher and
an admin: no 5xx, every status, content type, header and error body as documented, schema-
invalid requests refused, undocumented methods 405 with `Allow`.

The suite runs a small version (a few examples per operation, within seconds); `make fuzz`
runs a larger one through the same code (`HOTLINE_FUZZ_EXAMPLES`, `HOTLINE_FUZZ_PHASES`,
`HOTLINE_FUZZ_SECONDS` per role). Left out: `positive_data_acceptance`, which expects every
schema-valid request to succeed, while some rules are not JSON Schema's to say (a period of
at most 3660 days between two parameters, a category code that must exist); the logout and
password change (they end the role's token and so the rest of its run); and the classifier's
training (minutes of CPU). The server counts every answer it gives, so the 5xx figure does not
depend on schemathesis's own report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import pg_url

pytest.importorskip("schemathesis")

ROLES = ("operator1", "dispatcher1", "admin1")
EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "2"))
PHASES = os.environ.get("HOTLINE_FUZZ_PHASES", "examples,fuzzing")
# Per role; schemathesis spends the first seconds of it reading the schema (about 150
# operations now), so 7 s left a role with no case at all on a loaded CI machine.
SECONDS = int(os.environ.get("HOTLINE_FUZZ_SECONDS", "12"))
SEED = os.environ.get("HOTLINE_FUZZ_SEED", "20261207")
EXCLUDED_PATHS = r"/auth/(logout|password)$|/admin/classifier/train$"
EXCLUDED_CHECKS = "positive_data_acceptance"


class Tally:
    """A WSGI middleware counting the statuses the app answers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            code = int(status.split()[0])
            with self._lock:
                self.statuses[code] += 1
                if code >= 500:
                    self.server_errors.append(
                        f"{code} {environ['REQUEST_METHOD']} {environ.get('PATH_INFO')}"
                        f"?{environ.get('QUERY_STRING', '')}")
            return start_response(status, headers, exc_info)

        return self.app(environ, start_response=start)


@pytest.fixture
def served(app) -> Iterator[tuple[str, Tally]]:
    """The test app behind a real HTTP server (threads), and its tally."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass  # thousands of lines; the tally keeps what matters

    tally = Tally(app.wsgi_app)
    app.wsgi_app = tally  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", tally
    finally:
        server.shutdown()
        thread.join(10)


def _failures(output: str) -> str:
    """The failures section of schemathesis's report (the whole output if there is none)."""
    found = re.search(r"=+ FAILURES =+(.*?)(?:=+ (?:WARNINGS|SUMMARY) =+)", output, re.S)
    return found.group(1) if found else output[-6000:]


def _cases(output: str) -> int:
    found = re.search(r"(\d+) generated", output)
    return int(found.group(1)) if found else 0


def fuzz(base: str, token: str, report_dir: Path) -> tuple[int, int, str]:
    """One schemathesis run as the bearer of `token`: (exit code, cases, output)."""
    st = Path(sys.executable).parent / "st"
    command = [
        str(st), "run", f"{base}/api/v1/openapi.json", "--url", base,
        "-H", f"Authorization: Bearer {token}",
        "--max-examples", str(EXAMPLES), "--phases", PHASES, "--mode", "all",
        "--exclude-checks", EXCLUDED_CHECKS, "--exclude-path-regex", EXCLUDED_PATHS,
        "--max-time", str(SECONDS), "--seed", SEED, "--generation-deterministic",
        "--no-color", "--max-failures", "20", "--output-truncate", "false",
        "--report-dir", str(report_dir), "--request-timeout", "30",
    ]
    report_dir.mkdir(parents=True, exist_ok=True)
    # In its own directory: nothing (a .hypothesis folder) is left in the working tree.
    done = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS * 3 + 120,
                          cwd=report_dir, env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    output = done.stdout + done.stderr
    return done.returncode, _cases(output), output


@pytest.mark.timeout(SECONDS * 3 + 90)
@pytest.mark.parametrize("db_url", ["postgresql" if pg_url() else "sqlite"], indirect=True)
def test_a_bounded_fuzz_run_for_three_roles_finds_no_5xx_and_no_schema_violation(
        api, served, tmp_path, db_url):
    base, tally = served
    tokens = {user: api.headers(user)["Authorization"].split()[1] for user in ROLES}
    started = time.monotonic()
    results = {}
    for user, token in tokens.items():
        code, cases, output = fuzz(base, token, tmp_path / user)
        results[user] = (code, cases)
        assert code == 0, f"{user}:\n{_failures(output)[:20000]}"
    elapsed = time.monotonic() - started
    total = sum(cases for _, cases in results.values())
    print(f"\nfuzz: {total} cases ({', '.join(f'{u} {c}' for u, (_, c) in results.items())}), "
          f"{sum(tally.statuses.values())} requests, {elapsed:.1f} s, "
          f"5xx: {len(tally.server_errors)}; statuses {dict(sorted(tally.statuses.items()))}")
    assert tally.server_errors == []
    assert all(cases > 0 for _, cases in results.values())
