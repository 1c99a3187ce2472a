"""Face collections on disk (SQLite, WAL) with an in-memory matrix for search.

Every face's descriptor lives in SQLite, the source of truth shared by every
process. For search, each collection's descriptors are also held as one
float32 matrix, refreshed from the database when another process (or this one)
changed the collection: a scan is one matrix-vector product, a few ms for 100k
faces and a few tens of ms for a million on two cores.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from facerec.boxes import RatioBox
from facerec.descriptor import DESCRIPTOR_SIZE
from facerec.local.sqlite import forget_deleted, open_database, transaction


def _collection_table(name: str, key: list[str], values: list[str]) -> str:
    """A table of one collection's data, keyed within the collection: its rows go with the collection."""
    columns = "".join(f"    {column} TEXT NOT NULL,\n" for column in [*key, *values])
    return (
        f"CREATE TABLE IF NOT EXISTS {name} (\n"
        "    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,\n"
        f"{columns}    PRIMARY KEY (collection, {', '.join(key)})\n);"
    )


SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,  -- bumped by every change to its faces
    deletions INTEGER NOT NULL DEFAULT 0    -- bumped when faces are removed
);
CREATE TABLE IF NOT EXISTS faces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    face_id TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    left REAL NOT NULL, top REAL NOT NULL, width REAL NOT NULL, height REAL NOT NULL,
    confidence REAL NOT NULL,
    created TEXT NOT NULL,
    descriptor BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_by_collection ON faces(collection, seq);
{users}
CREATE TABLE IF NOT EXISTS user_faces (  -- a face belongs to at most one user
    face_id TEXT PRIMARY KEY REFERENCES faces(face_id) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    user_id TEXT NOT NULL,
    FOREIGN KEY (collection, user_id) REFERENCES users(collection, user_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS user_faces_by_user ON user_faces(collection, user_id);
{tags}
{requests}
""".format(
    users=_collection_table("users", ["user_id"], ["created"]),
    tags=_collection_table("tags", ["key"], ["value"]),
    # answers to requests with a ClientRequestToken, for retries
    requests=_collection_table("requests", ["operation", "token"], ["fingerprint", "response"]),
)


class TooManyTags(Exception):
    """Tagging would leave a collection over the quota of tags."""


@dataclass(frozen=True)
class StoredFace:
    """A face as a collection keeps it and ListFaces shows it; its descriptor travels apart (NewFace, face())."""

    face_id: str
    image_id: str
    external_image_id: str | None
    box: RatioBox
    confidence: float
    user_id: str | None = None


@dataclass(frozen=True)
class NewFace:
    face: StoredFace
    descriptor: np.ndarray


class CollectionGone(LookupError):
    """The collection a write was for is not there (deleted, perhaps made again, since it was looked up)."""


@dataclass(frozen=True)
class Collection:
    name: str
    created: datetime
    face_count: int
    user_count: int = 0


@dataclass(frozen=True)
class User:
    user_id: str
    face_count: int


@dataclass(frozen=True)
class RememberedRequest:
    fingerprint: str
    response: str


@dataclass
class _Matrix:
    """A collection's descriptors in memory, in step with one generation of the database."""

    generation: int
    deletions: int
    last_seq: int
    seqs: np.ndarray  # int64 (n,)
    vectors: np.ndarray  # float32 (n, 128), may have spare rows beyond n
    norms: np.ndarray  # float32 (n,), squared norms
    size: int
    created: str = ""

    def append(self, seqs: np.ndarray, vectors: np.ndarray) -> None:
        need = self.size + len(seqs)
        if need > len(self.vectors):
            capacity = max(need, int(len(self.vectors) * 1.25) + 1024)
            self.vectors = _grow(self.vectors, capacity)
            self.seqs = _grow(self.seqs, capacity)
            self.norms = _grow(self.norms, capacity)
        self.vectors[self.size : need] = vectors
        self.seqs[self.size : need] = seqs
        self.norms[self.size : need] = np.einsum("ij,ij->i", vectors, vectors)
        self.size = need
        if len(seqs):
            self.last_seq = int(seqs[-1])

    @property
    def nbytes(self) -> int:
        return self.vectors.nbytes + self.seqs.nbytes + self.norms.nbytes


def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    grown = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


class FaceStore:
    """Collections and faces, persisted in one SQLite file, safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self._db = open_database(path, SCHEMA)
        self._lock = threading.RLock()
        self._matrices: dict[str, _Matrix] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self):
        return transaction(self._db, self._lock)

    # Collections

    def create_collection(self, name: str) -> bool:
        """Create it; False if it already exists."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO collections(name, created) VALUES (?, ?)",
                (name, datetime.now(timezone.utc).isoformat()),
            )
            return cursor.rowcount == 1

    def delete_collection(self, name: str) -> bool:
        with self._transaction() as db:
            db.execute("DELETE FROM faces WHERE collection = ?", (name,))
            deleted = db.execute("DELETE FROM collections WHERE name = ?", (name,)).rowcount == 1
        self._matrices.pop(name, None)
        return deleted

    def collection(self, name: str) -> Collection | None:
        with self._lock:
            row = self._db.execute("SELECT name, created FROM collections WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            (count,) = self._db.execute("SELECT count(*) FROM faces WHERE collection = ?", (name,)).fetchone()
            (users,) = self._db.execute("SELECT count(*) FROM users WHERE collection = ?", (name,)).fetchone()
        return Collection(row[0], datetime.fromisoformat(row[1]), count, users)

    def collection_names(self, after: str = "", limit: int = 1000) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name FROM collections WHERE name > ? ORDER BY name LIMIT ?", (after, limit)
            ).fetchall()
        return [r[0] for r in rows]

    # Faces

    def add_faces(self, collection: str, faces: list[NewFace], created: datetime | None = None) -> None:
        """Add all the faces or none; CollectionGone if the collection is not there, or (given its creation
        time, as it was when the faces were found) was deleted and made again meanwhile."""
        now = datetime.now(timezone.utc).isoformat()
        rows = [
            (
                collection,
                f.face.face_id,
                f.face.image_id,
                f.face.external_image_id,
                f.face.box.left,
                f.face.box.top,
                f.face.box.width,
                f.face.box.height,
                f.face.confidence,
                now,
                np.asarray(f.descriptor, dtype=np.float32).tobytes(),
            )
            for f in faces
        ]
        with self._transaction() as db:
            row = db.execute("SELECT created FROM collections WHERE name = ?", (collection,)).fetchone()
            if row is None or (created is not None and datetime.fromisoformat(row[0]) != created):
                raise CollectionGone(collection)
            db.executemany(
                "INSERT INTO faces(collection, face_id, image_id, external_image_id, left, top, width,"
                " height, confidence, created, descriptor) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            db.execute("UPDATE collections SET generation = generation + 1 WHERE name = ?", (collection,))

    def delete_faces(self, collection: str, face_ids: list[str]) -> list[str]:
        """Delete those faces of the collection; return the ids that were there."""
        try:
            return self._delete_faces(collection, face_ids)
        finally:
            forget_deleted(self._db, self._lock)

    def _delete_faces(self, collection: str, face_ids: list[str]) -> list[str]:
        with self._transaction() as db:
            deleted = []
            for face_id in face_ids:
                cursor = db.execute("DELETE FROM faces WHERE collection = ? AND face_id = ?", (collection, face_id))
                if cursor.rowcount:
                    deleted.append(face_id)
            if deleted:
                db.execute(
                    "UPDATE collections SET generation = generation + 1, deletions = deletions + 1 WHERE name = ?",
                    (collection,),
                )
        return deleted

    def faces(self, collection: str, after_seq: int = 0, limit: int = 1000, face_ids=None, user_id: str | None = None):
        """(seq, StoredFace) pairs in insertion order, after a sequence number."""
        query = f"SELECT f.seq, {_FACE_COLUMNS} FROM {_FACES} WHERE f.collection = ? AND f.seq > ?"
        args: list = [collection, after_seq]
        if face_ids:
            query += f" AND f.face_id IN ({','.join('?' * len(face_ids))})"
            args += list(face_ids)
        if user_id is not None:
            query += " AND u.user_id = ?"
            args.append(user_id)
        query += " ORDER BY f.seq LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [(r[0], _stored_face(r[1:])) for r in rows]

    def face(self, collection: str, face_id: str) -> tuple[StoredFace, np.ndarray] | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_FACE_COLUMNS}, f.descriptor FROM {_FACES} WHERE f.collection = ? AND f.face_id = ?",
                (collection, face_id),
            ).fetchone()
        if row is None:
            return None
        return _stored_face(row[:-1]), np.frombuffer(row[-1], dtype=np.float32)

    def faces_by_seq(self, seqs: list[int]) -> dict[int, StoredFace]:
        if not seqs:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT f.seq, {_FACE_COLUMNS} FROM {_FACES} WHERE f.seq IN ({','.join('?' * len(seqs))})",
                [int(s) for s in seqs],
            ).fetchall()
        return {r[0]: _stored_face(r[1:]) for r in rows}

    # Users

    def create_user(self, collection: str, user_id: str) -> bool:
        """Create it; False if the collection already has that user."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO users(collection, user_id, created) VALUES (?, ?, ?)",
                (collection, user_id, datetime.now(timezone.utc).isoformat()),
            )
            return cursor.rowcount == 1

    def delete_user(self, collection: str, user_id: str) -> bool:
        """Delete it (its faces stay, no longer associated); False if there was none."""
        with self._transaction() as db:
            db.execute("DELETE FROM user_faces WHERE collection = ? AND user_id = ?", (collection, user_id))
            deleted = db.execute(
                "DELETE FROM users WHERE collection = ? AND user_id = ?", (collection, user_id)
            ).rowcount
        return deleted == 1

    def user(self, collection: str, user_id: str) -> User | None:
        found = self.users(collection, after=user_id, limit=1, inclusive=True)
        return found[0] if found and found[0].user_id == user_id else None

    def users(self, collection: str, after: str = "", limit: int = 500, inclusive: bool = False) -> list[User]:
        """Users in UserId order after `after`, with how many faces each has."""
        since = ">=" if inclusive else ">"
        with self._lock:
            rows = self._db.execute(
                "SELECT s.user_id, (SELECT count(*) FROM user_faces f WHERE f.collection = s.collection"
                f" AND f.user_id = s.user_id) FROM users s WHERE s.collection = ? AND s.user_id {since} ?"
                " ORDER BY s.user_id LIMIT ?",
                (collection, after, limit),
            ).fetchall()
        return [User(*row) for row in rows]

    def face_owners(self, collection: str, face_ids: list[str]) -> dict[str, str | None]:
        """Each face of the collection among face_ids -> its user (None when it has none)."""
        if not face_ids:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT f.face_id, u.user_id FROM {_FACES} WHERE f.collection = ?"
                f" AND f.face_id IN ({','.join('?' * len(face_ids))})",
                [collection, *face_ids],
            ).fetchall()
        return dict(rows)

    def associate(self, collection: str, user_id: str, face_ids: list[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO user_faces(face_id, collection, user_id) VALUES (?, ?, ?)",
                [(face_id, collection, user_id) for face_id in face_ids],
            )

    def disassociate(self, collection: str, user_id: str, face_ids: list[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                "DELETE FROM user_faces WHERE collection = ? AND user_id = ? AND face_id = ?",
                [(collection, user_id, face_id) for face_id in face_ids],
            )

    def user_descriptors(self, collection: str, user_id: str | None = None) -> tuple[list[str], np.ndarray]:
        """(user of each row, descriptors) of the faces associated with users, or with one user."""
        query = (
            "SELECT u.user_id, f.descriptor FROM user_faces u JOIN faces f ON f.face_id = u.face_id"
            " WHERE u.collection = ?"
        )
        args = [collection]
        if user_id is not None:
            query += " AND u.user_id = ?"
            args.append(user_id)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY u.user_id", args).fetchall()
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), DESCRIPTOR_SIZE)
        return [r[0] for r in rows], vectors

    # Tags

    def tags(self, collection: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM tags WHERE collection = ? ORDER BY key", (collection,))
            return dict(rows.fetchall())

    def set_tags(self, collection: str, tags: dict[str, str], limit: int) -> None:
        """Add or replace tags; TooManyTags (and nothing changed) if the collection would have more than `limit`."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO tags(collection, key, value) VALUES (?, ?, ?)",
                [(collection, k, v) for k, v in tags.items()],
            )
            (count,) = db.execute("SELECT count(*) FROM tags WHERE collection = ?", (collection,)).fetchone()
            if count > limit:
                raise TooManyTags(f"a collection has at most {limit} tags")

    def remove_tags(self, collection: str, keys: list[str]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM tags WHERE collection = ? AND key = ?", [(collection, k) for k in keys])

    # Requests with a ClientRequestToken

    def remembered(self, collection: str, operation: str, token: str) -> RememberedRequest | None:
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, response FROM requests WHERE collection = ? AND operation = ? AND token = ?",
                (collection, operation, token),
            ).fetchone()
        return RememberedRequest(*row) if row else None

    def remember(self, collection: str, operation: str, token: str, fingerprint: str, response: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO requests(collection, operation, token, fingerprint, response)"
                " VALUES (?, ?, ?, ?, ?)",
                (collection, operation, token, fingerprint, response),
            )

    # Search

    def nearest(
        self, collection: str, descriptor: np.ndarray, max_distance: float, limit: int
    ) -> list[tuple[int, float]]:
        """(seq, distance) of the closest faces within max_distance, closest first."""
        with self._lock:
            matrix = self.matrix(collection)
            # A snapshot: appends write past `size` or swap in new arrays, so the scan
            # can run outside the lock while other threads use the store.
            snapshot = replace(matrix)
        return nearest_in(snapshot, descriptor, max_distance, limit)

    def matrix(self, collection: str) -> _Matrix:
        """The collection's in-memory matrix, brought in step with the database."""
        with self._lock:
            row = self._db.execute(
                "SELECT created, generation, deletions FROM collections WHERE name = ?", (collection,)
            ).fetchone()
            created, generation, deletions = row if row else ("", 0, 0)
            matrix = self._matrices.get(collection)
            # A collection deleted and made again elsewhere has new counters: `created` tells them apart.
            if matrix is None or matrix.deletions != deletions or matrix.created != created:
                matrix = _Matrix(-1, deletions, 0, *_empty(self._count(collection)), 0, created)
                self._matrices[collection] = matrix
            if matrix.generation != generation:
                self._load_after(collection, matrix)
                matrix.generation = generation
            return matrix

    def _count(self, collection: str) -> int:
        return self._db.execute("SELECT count(*) FROM faces WHERE collection = ?", (collection,)).fetchone()[0]

    def _load_after(self, collection: str, matrix: _Matrix, chunk: int = 50_000) -> None:
        cursor = self._db.execute(
            "SELECT seq, descriptor FROM faces WHERE collection = ? AND seq > ? ORDER BY seq",
            (collection, matrix.last_seq),
        )
        while rows := cursor.fetchmany(chunk):
            seqs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            matrix.append(seqs, vectors.reshape(len(rows), DESCRIPTOR_SIZE))


def nearest_in(matrix: _Matrix, descriptor: np.ndarray, max_distance: float, limit: int) -> list[tuple[int, float]]:
    n = matrix.size
    if n == 0:
        return []
    q = np.asarray(descriptor, dtype=np.float32)
    squared = squared_distances(matrix.vectors, matrix.norms, n, q)
    hits = np.flatnonzero(squared <= max_distance * max_distance)
    if len(hits) > limit:
        hits = hits[np.argpartition(squared[hits], limit - 1)[:limit]]
    hits = hits[np.argsort(squared[hits], kind="stable")]
    return [(int(matrix.seqs[i]), float(np.sqrt(max(squared[i], 0.0)))) for i in hits]


# Rows per task of a scan. The scan is split into many small single-threaded
# products on our own pool, rather than one product on BLAS's threads: when the
# other core is busy (camera, GUI, a second process), BLAS's threads wait for
# each other, and a 100k scan took 8 ms instead of 1.5; our tasks simply go to
# whichever thread is free.
SCAN_CHUNK = 32_768
_scan_pool: ThreadPoolExecutor | None = None
_blas = ThreadpoolController()


def squared_distances(vectors: np.ndarray, norms: np.ndarray, n: int, q: np.ndarray) -> np.ndarray:
    """|x - q|^2 = |x|^2 - 2 x.q + |q|^2 for the first n rows."""
    global _scan_pool
    out = np.empty(n, dtype=np.float32)
    offset = float(q @ q)

    def scan(start: int) -> None:
        end = min(n, start + SCAN_CHUNK)
        np.multiply(vectors[start:end] @ q, -2.0, out=out[start:end])
        out[start:end] += norms[start:end]
        out[start:end] += offset

    with _blas.limit(limits=1, user_api="blas"):
        if n <= SCAN_CHUNK:
            scan(0)
        else:
            if _scan_pool is None:
                _scan_pool = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="facerec-scan")
            list(_scan_pool.map(scan, range(0, n, SCAN_CHUNK)))
    return out


def _empty(capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.empty(capacity, dtype=np.int64),
        np.empty((capacity, DESCRIPTOR_SIZE), dtype=np.float32),
        np.empty(capacity, dtype=np.float32),
    )


def _stored_face(row: tuple) -> StoredFace:
    """A StoredFace from the columns _FACE_COLUMNS names, in their order."""
    face_id, image_id, external_image_id, left, top, width, height, confidence, user_id = row
    return StoredFace(face_id, image_id, external_image_id, RatioBox(left, top, width, height), confidence, user_id)


_FACE_COLUMNS = "f.face_id, f.image_id, f.external_image_id, f.left, f.top, f.width, f.height, f.confidence, u.user_id"
_FACES = "faces f LEFT JOIN user_faces u ON u.face_id = f.face_id"
