"""The baseline: a bare Flask + SQLite endpoint (WAL, synchronous=NORMAL), nothing else."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid

from flask import Flask, Response, request

app = Flask(__name__)
_local = threading.local()
DB = os.environ.get("BARE_DB", "/tmp/paysim-bare.db")


def _conn() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(DB, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, data TEXT)")
    return conn


@app.post("/bare")
def create() -> Response:
    body = request.get_json()
    item_id = str(uuid.uuid4())
    conn = _conn()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO items VALUES (?, ?)", (item_id, json.dumps(body)))
    conn.execute("COMMIT")
    return Response(json.dumps({"id": item_id, **body}), 201, mimetype="application/json")


@app.get("/bare/<item_id>")
def get(item_id: str) -> Response:
    row = _conn().execute("SELECT data FROM items WHERE id=?", (item_id,)).fetchone()
    if row is None:
        return Response('{"error": "not found"}', 404, mimetype="application/json")
    return Response(row[0], 200, mimetype="application/json")
