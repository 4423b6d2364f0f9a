"""The bare endpoint of the HTTP intake benchmark (tests/bench/test_bench_http_intake.py): what
our own stack allows. A minimal Flask app whose `POST /api/v1/tickets` parses the same JSON as
the intake and inserts one row (text, phone, point, time) into a table of its own with
SQLAlchemy Core, committed, answering 201 with the row's id; no token check, no domain. It is
served by gunicorn with `hotline serve`'s own settings (web.server.options: one process, the
gthread worker, the same threads, keep-alive and access log), without its background work.

Run: `python -m tests.bench.bare_intake DATABASE_URL PORT THREADS`.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
)

metadata = MetaData()
BARE = Table("bench_bare_intake", metadata,
             Column("id", Integer, primary_key=True),
             Column("text", String(2000), nullable=False),
             Column("phone", String(32), nullable=False),
             Column("lon", Float), Column("lat", Float),
             Column("created_at", DateTime(timezone=True), nullable=False))


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()  # as the application sets them (web/app.py)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_app(database_url: str) -> Flask:
    """The bare app on `database_url` (its table created when missing)."""
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    engine.dispose()  # no connection inherited across gunicorn's fork
    app = Flask(__name__)

    @app.post("/api/v1/tickets")
    def create() -> Any:
        body = request.get_json()
        row = {"text": body["text"], "phone": body["citizen"]["phone"], "lon": body.get("lon"),
               "lat": body.get("lat"), "created_at": datetime.now(UTC)}
        with engine.begin() as conn:
            new_id = conn.execute(insert(BARE).values(row)).inserted_primary_key[0]
        return jsonify({"id": new_id}), 201

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    return app


def main(argv: list[str]) -> None:
    from web.server import Server, options

    database_url, port, threads = argv[0], int(argv[1]), int(argv[2])
    app = make_app(database_url)
    settings = options(app, "127.0.0.1", port, threads)
    for hook in ("post_worker_init", "worker_int"):  # the application's background work
        settings.pop(hook)
    Server(app, settings).run()


if __name__ == "__main__":
    main(sys.argv[1:])
