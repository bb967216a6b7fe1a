# Fills an orakgaraki SQLite database (already migrated by a first start) with N
# COMPLETED records and their voice embeddings (random 256-d unit vectors), for
# the cold-start measurement of bench/load.rs:
#
#   python3 bench/fill_records.py DATA_DIR/orakgaraki.sqlite3 N MODEL_NAME MODEL_VERSION
#
# A tenth of the records are public; owners are spread over N/100 users.
import sqlite3, subprocess, sys, uuid

try:
    import numpy as np
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "numpy"])
    import numpy as np

path, n, model, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=OFF")
rng = np.random.default_rng(20261130)
now = 1_796_000_000_000
batch = 10_000
done = 0
while done < n:
    k = min(batch, n - done)
    v = rng.standard_normal((k, 256)).astype("<f4")
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ids = [str(uuid.uuid4()) for _ in range(k)]
    records = [
        (rid, f"user{(done + i) % max(1, n // 100)}", "COMPLETED", 5, "take.wav", "audio/wav", 1_000_000, 1_000_000,
         f"audio/{rid}", 1, now + 3_600_000, now + done + i, now + done + i, now + done + i,
         "public" if (done + i) % 10 == 0 else "private")
        for i, rid in enumerate(ids)
    ]
    db.executemany(
        "INSERT INTO records (id, owner, status, seq, filename, content_type, declared_size, size, object_key, attempts,"
        " upload_expires_at, queued_at, created_at, updated_at, visibility) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        records,
    )
    db.executemany(
        "INSERT INTO embeddings (record_id, model, version, dim, vector, created_at) VALUES (?,?,?,?,?,?)",
        [(rid, model, version, 256, v[i].tobytes(), now + done + i) for i, rid in enumerate(ids)],
    )
    db.commit()
    done += k
    if done % 100_000 == 0:
        print(f"  {done} records", flush=True)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
