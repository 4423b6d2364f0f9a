"""ARCHITECTURE.md's rules that hold for the code as a whole.

- `dispatch/` and `grid/` never import the frameworks or the outer layers.
- Flask-SQLAlchemy is built on the one declarative `Base`: one metadata.
- Only `dispatch/tickets/lifecycle/` writes a status.
- The Alembic migrations produce exactly the models' schema, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import ast
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

import dispatch.core.models  # noqa: F401
import dispatch.outbound.outbox  # noqa: F401
import dispatch.outbound.police  # noqa: F401
import dispatch.triage.knowledge  # noqa: F401
import dispatch.triage.rules  # noqa: F401
import grid.models  # noqa: F401
from dispatch.core.db import Base

ROOT = Path(__file__).resolve().parents[2]
INNER = ("dispatch", "grid")
ALL_PACKAGES = ("dispatch", "grid", "web", "workers", "integrations")
FORBIDDEN_IN_INNER = frozenset({
    "flask", "flask_socketio", "flask_sqlalchemy", "flask_migrate", "celery",
    "web", "workers", "integrations",
})
TABLES = frozenset({
    "tickets", "assignments", "extensions", "events", "contacts", "categories", "settings",
    "ticket_counters", "calendar_days", "users", "api_tokens", "personal_data_reads",
    "departments",
})


def _py_files(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ---------------------------------------------------------------- (a) imports


def imported_modules(source: str) -> set[str]:
    """Every absolute module an import statement (or importlib/__import__ with a literal)
    names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant) \
                    and isinstance(arg.value, str):
                found.add(arg.value)
    return found


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_import_walker_sees_every_form_of_import() -> None:
    source = (
        "import flask\n"
        "import celery.app as c\n"
        "from web.extensions import db\n"
        "from . import sibling\n"
        "def f():\n"
        "    from workers import tasks\n"
        "    import importlib\n"
        "    importlib.import_module('integrations.police110')\n"
        "    __import__('flask_socketio')\n"
    )
    assert {_top(m) for m in imported_modules(source)} == {
        "flask", "celery", "web", "workers", "importlib", "integrations", "flask_socketio",
    }


@pytest.mark.parametrize("package", INNER)
def test_inner_layers_import_no_framework_and_no_outer_layer(package: str) -> None:
    files = list(_py_files(package))
    assert files, f"no Python files under {package}/"
    offenders = []
    for path in files:
        for module in imported_modules(path.read_text(encoding="utf-8")):
            if _top(module) in FORBIDDEN_IN_INNER:
                offenders.append(f"{_rel(path)} imports {module}")
    assert offenders == []


def test_the_domain_imports_nothing_else_of_the_project() -> None:
    # dispatch/ ──► nothing in the project: not even grid/.
    offenders = [
        f"{_rel(path)} imports {module}"
        for path in _py_files("dispatch")
        for module in imported_modules(path.read_text(encoding="utf-8"))
        if _top(module) in set(ALL_PACKAGES) - {"dispatch"}
    ]
    assert offenders == []


def test_workers_and_integrations_do_not_import_the_web_layer() -> None:
    offenders = [
        f"{_rel(path)} imports {module}"
        for path in _py_files("workers", "integrations")
        for module in imported_modules(path.read_text(encoding="utf-8"))
        if _top(module) == "web"
        or (_rel(path).startswith("integrations/") and _top(module) == "workers")
    ]
    assert offenders == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(paths: list[Path]) -> dict[str, set[str]]:
    """Module → the project's modules it imports (at the top or inside a function: a lazy
    import that only breaks a cycle at run time still ties the two together). A module's own
    ancestor packages are left out: Python initialises them first, whatever the order."""
    modules = {_module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        ancestors = {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            edges |= {m for m in found if m in modules and m != name and m not in ancestors}
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_the_project_modules() -> None:
    paths = [p for p in _py_files(*ALL_PACKAGES) if "migrations" not in p.parts]
    assert import_cycles(import_graph(paths)) == []


def test_no_module_registers_a_session_listener_at_import_time() -> None:
    # The table of consequences (dispatch/subscribers.py) installs them all, once.
    offenders = []
    for path in _py_files(*ALL_PACKAGES):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            decorated = isinstance(node, ast.FunctionDef) and any(
                "listens_for" in ast.unparse(d) for d in node.decorator_list)
            called = isinstance(node, ast.Expr) and "event.listen" in ast.unparse(node)
            if decorated or called:
                offenders.append(f"{_rel(path)}:{node.lineno}")
    assert offenders == []


# ---------------------------------------------------------------- (b) one metadata


def test_flask_sqlalchemy_shares_the_one_metadata_of_the_declarative_base() -> None:
    from web.extensions import db

    assert db.metadata is Base.metadata
    assert db.Model.metadata is Base.metadata
    # Flask-SQLAlchemy makes its own Model class, but on Base's registry: one set of mappers.
    assert db.Model.registry is Base.registry


def test_every_table_is_on_the_shared_metadata() -> None:
    from web.extensions import db

    assert TABLES <= set(db.metadata.tables)
    mapped = {m.local_table.name for m in Base.registry.mappers}
    assert mapped <= set(db.metadata.tables)
    assert TABLES <= mapped


# ---------------------------------------------------------------- (c) one status writer


def status_writes(source: str) -> list[int]:
    """Line numbers where something assigns an attribute named `status`."""
    lines: list[int] = []

    def targets(node: ast.AST) -> Iterator[ast.AST]:
        if isinstance(node, ast.Tuple | ast.List):
            for elt in node.elts:
                yield from targets(elt)
        elif isinstance(node, ast.Starred):
            yield from targets(node.value)
        else:
            yield node

    for node in ast.walk(ast.parse(source)):
        assigned: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            assigned = [t for target in node.targets for t in targets(target)]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            assigned = list(targets(node.target))
        if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in assigned):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value == "status":
            lines.append(node.lineno)
    return sorted(lines)


def test_the_status_walker_sees_plain_tuple_annotated_and_setattr_writes() -> None:
    source = (
        "ticket.status = 'NEW'\n"
        "a.status, a.closed_at = 'returned', now\n"
        "x: str = 'y'\n"
        "t.status: str = 'VOID'\n"
        "setattr(ticket, 'status', 'ARCHIVED')\n"
        "if ticket.status == 'NEW': pass\n"
        "status = 'NEW'\n"
    )
    assert status_writes(source) == [1, 2, 4, 5]


def test_only_the_lifecycle_module_writes_a_status() -> None:
    writers = {
        _rel(path)
        for path in _py_files(*ALL_PACKAGES)
        if status_writes(path.read_text(encoding="utf-8"))
    }
    # The lifecycle is a package (table, the writer, the handlers): no module outside it.
    assert writers and all(w.startswith("dispatch/tickets/lifecycle/") for w in writers), writers


# ---------------------------------------------------------------- (d) migrations


def _upgrade_and_compare(url: str, instance: Path) -> tuple[list, set[str], str | None]:
    """Run the migrations on an empty database; return the differences from the models,
    the tables made and the revision recorded."""
    from flask_migrate import upgrade

    import web.app
    from web.extensions import db

    app = web.app.create_app({
        "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "x",
    })
    with app.app_context():
        try:
            upgrade(directory=web.app.MIGRATIONS)
            with db.engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, Base.metadata)
                tables = set(inspect(conn).get_table_names())
                revision = context.get_current_revision()
        finally:
            db.engine.dispose()
    return diff, tables, revision


def _head() -> str:
    from alembic.config import Config

    import web.app

    config = Config()
    config.set_main_option("script_location", web.app.MIGRATIONS)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def test_migrations_on_empty_sqlite_give_exactly_the_models_schema(tmp_path: Path) -> None:
    diff, tables, revision = _upgrade_and_compare(
        f"sqlite:///{tmp_path / 'migrated.db'}", tmp_path / "instance")
    assert diff == []
    assert TABLES <= tables
    assert revision == _head()


def test_running_the_migrations_leaves_the_applications_loggers_enabled(tmp_path: Path) -> None:
    # Alembic's env.py configures logging from alembic.ini; it must not switch off the loggers
    # that already exist in the process (the event log publisher's among them).
    events_log = logging.getLogger("hotline.events")
    assert events_log.disabled is False
    _upgrade_and_compare(f"sqlite:///{tmp_path / 'migrated.db'}", tmp_path / "instance")
    assert events_log.disabled is False


@pytest.fixture
def scratch_pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database made for this test and dropped after it."""
    from tests.conftest import pg_url, require_service

    base = pg_url()
    if base is None:
        require_service("PostgreSQL (HOTLINE_TEST_DATABASE_URL)")
    import psycopg

    name = f"hotline_migrate_test_{os.getpid()}"
    url = make_url(base)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_on_empty_postgresql_give_exactly_the_models_schema(
    scratch_pg_url: str, tmp_path: Path
) -> None:
    diff, tables, revision = _upgrade_and_compare(scratch_pg_url, tmp_path / "instance")
    assert diff == []
    assert TABLES <= tables
    assert revision == _head()
