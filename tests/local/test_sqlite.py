"""facerec.local.sqlite: databases that several back ends, in several processes, open at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from facerec.local.sqlite import open_database

SCHEMA = "CREATE TABLE IF NOT EXISTS things(x);"


def close_a_connection_in_another_process(path: Path) -> None:
    """What a CLI command that ends does: open the database, read, close (as the last one, if it can)."""
    script = "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute('SELECT * FROM things'); db.close()"
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)


def test_opening_a_database_again_in_a_process_keeps_its_open_connections_locks(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite3"
    first = open_database(path, SCHEMA)
    first.execute("INSERT INTO things VALUES (1)")
    second = open_database(path, SCHEMA)  # a second back end on the same folder, in the same process
    close_a_connection_in_another_process(path)
    # Had the second open dropped the first connection's lock, the other process would have taken the
    # database for its own, folded the log and deleted it under both our connections.
    assert Path(f"{path}-wal").exists()
    first.execute("INSERT INTO things VALUES (2)")
    assert second.execute("SELECT count(*) FROM things").fetchone() == (2,)
    assert first.execute("PRAGMA integrity_check").fetchone() == ("ok",)
