//! The embedded vector store against a real SQLite database: rebuilt from the
//! stored embeddings, brought back in line by `sync` after changes made behind
//! its back (re-embedding, deletes by another process), and searched within scopes.

use orakgaraki::domain::{Analysis, Embedding, RecordId, Visibility};
use orakgaraki::store::vectors::{EmbeddedVectors, IndexParams, SearchScope, VectorSource, VectorStore};
use orakgaraki::store::{NewRecord, RecordStore, SqliteStore};
use rand::{Rng, SeedableRng};
use std::sync::Arc;

const DIM: usize = 256;

fn unit(rng: &mut impl Rng) -> Vec<f32> {
    let v: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn embedding(vector: Vec<f32>, version: &str) -> Embedding {
    Embedding { model: "test-model".into(), version: version.into(), vector }
}

/// A COMPLETED record of `owner` whose analysis carries `vector`.
async fn completed(s: &SqliteStore, owner: &str, vector: Vec<f32>, now: i64) -> RecordId {
    let id = RecordId::from_uuid(uuid::Uuid::now_v7());
    s.create_pending(NewRecord {
        id: id.clone(),
        owner: owner.into(),
        filename: "v.wav".into(),
        content_type: "audio/wav".into(),
        declared_size: 10,
        metadata: None,
        upload_expires_at: now + 1000,
        now,
    })
    .await
    .unwrap();
    s.mark_uploaded(&id, 10, "h", now).await.unwrap();
    let (job, _) = s.claim_jobs(1, "me", now + 100, now).await.unwrap().remove(0);
    let analysis = Analysis { duration_s: 1.0, embedding: Some(embedding(vector, "1")), ..Analysis::default() };
    s.complete(&job, &analysis, now).await.unwrap().unwrap();
    id
}

fn brute_force(all: &[(i64, Vec<f32>)], q: &[f32], k: usize, keep: impl Fn(i64) -> bool) -> Vec<i64> {
    let mut scored: Vec<(f32, i64)> = all
        .iter()
        .filter(|(key, _)| keep(*key))
        .map(|(key, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum(), *key))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(k).map(|(_, key)| key).collect()
}

#[tokio::test]
async fn rebuilt_from_the_database_and_kept_in_line_by_sync() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("db.sqlite3").to_string_lossy().into_owned();
    let store = Arc::new(SqliteStore::open(&url, 2).await.unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut ids = Vec::new();
    for i in 0..60 {
        let owner = if i % 3 == 0 { "ann" } else { "bob" };
        ids.push((completed(&store, owner, unit(&mut rng), i).await, owner));
    }
    // Every third of bob's is public.
    for (n, (id, _)) in ids.iter().enumerate().filter(|(_, (_, o))| *o == "bob") {
        if n % 3 == 1 {
            store.set_visibility(id, Visibility::Public, 100).await.unwrap();
        }
    }
    let params = IndexParams::default();
    let vdir = dir.path().join("vectors");
    let (vectors, report) = EmbeddedVectors::open(&vdir, "test-model", "1", params, store.clone()).await.unwrap();
    assert_eq!(report.rebuilt.as_deref(), Some("no saved index"));
    assert_eq!((report.size, vectors.len()), (60, 60));

    // Searches agree with brute force over the database's vectors, scope by scope.
    let keys = store.vector_keys("test-model", "1").await.unwrap();
    let all: Vec<(i64, Vec<f32>)> =
        store.vector_page("test-model", "1", 0, 1000).await.unwrap().into_iter().map(|r| (r.key, r.vector)).collect();
    let owner_of = |key: i64| keys.iter().find(|k| k.key == key).unwrap().clone();
    let q = unit(&mut rng);
    let scope = SearchScope { own: Some("ann".into()), public: true, ..Default::default() };
    let got: Vec<i64> = vectors.search(q.clone(), 10, scope).await.unwrap().iter().map(|h| h.key).collect();
    let want = brute_force(&all, &q, 10, |k| {
        let o = owner_of(k);
        o.owner == "ann" || o.public
    });
    assert_eq!(got, want);
    let scope = SearchScope { public: true, owner: Some("ann".into()), ..Default::default() };
    assert!(vectors.search(q.clone(), 10, scope).await.unwrap().is_empty(), "ann has nothing public");

    // Nothing changed: sync only does the cheap check.
    assert!(!vectors.sync().await.unwrap().checked_keys);

    // Another process re-embeds one record (new key) and deletes another.
    let replaced = &ids[0].0;
    let old_key = store.vector_of_record(replaced, "test-model", "1").await.unwrap().unwrap().0.key;
    let fresh = unit(&mut rng);
    assert!(store.put_embedding(replaced, &embedding(fresh.clone(), "1"), 200).await.unwrap());
    let new_key = store.vector_of_record(replaced, "test-model", "1").await.unwrap().unwrap().0.key;
    assert!(new_key > old_key, "a replaced embedding gets a new key");
    store.delete(&ids[1].0).await.unwrap();
    let report = vectors.sync().await.unwrap();
    assert_eq!((report.added, report.removed), (1, 2), "{report:?}");
    assert_eq!(vectors.len(), 59);
    let everything = SearchScope { everything: true, ..Default::default() };
    let hits = vectors.search(fresh.clone(), 1, everything.clone()).await.unwrap();
    assert_eq!(hits[0].key, new_key);
    assert!(hits[0].score > 0.9999, "{hits:?}");

    // Saved, reopened: loaded as is; after the file is lost, rebuilt with the same answers.
    assert!(vectors.persist().await.unwrap());
    assert!(!vectors.persist().await.unwrap(), "nothing new to save");
    let before: Vec<i64> =
        vectors.search(q.clone(), 20, everything.clone()).await.unwrap().iter().map(|h| h.key).collect();
    drop(vectors);
    let (again, report) = EmbeddedVectors::open(&vdir, "test-model", "1", params, store.clone()).await.unwrap();
    assert_eq!((report.rebuilt, report.size, report.added, report.removed), (None, 59, 0, 0));
    let after: Vec<i64> =
        again.search(q.clone(), 20, everything.clone()).await.unwrap().iter().map(|h| h.key).collect();
    assert_eq!(before, after);
    drop(again);
    // Other index parameters or another model version: rebuilt.
    let other = IndexParams { connectivity: 8, ..params };
    let (_, report) = EmbeddedVectors::open(&vdir, "test-model", "1", other, store.clone()).await.unwrap();
    assert!(report.rebuilt.unwrap().contains("other parameters"));
    let (v2, report) = EmbeddedVectors::open(&vdir, "test-model", "2", other, store.clone()).await.unwrap();
    assert!(report.rebuilt.unwrap().contains("not test-model 2"));
    assert!(v2.is_empty(), "no embeddings from version 2");
}
