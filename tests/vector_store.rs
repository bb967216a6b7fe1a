//! The vector stores against real databases: the embedded index over SQLite, and
//! pgvector (PostgreSQL from pgserver, `TEST_PGVECTOR_URL`) over MariaDB — both
//! rebuilt from the stored embeddings, brought back in line by `sync` after changes
//! made behind their back (re-embedding, deletes by another process), and searched
//! within scopes with the same answers as brute force.

mod common;

use orakgaraki::domain::{Analysis, Embedding, RecordId, Visibility};
use orakgaraki::store::vectors::pg::{PgParams, PgVectors};
use orakgaraki::store::vectors::{EmbeddedVectors, IndexParams, SearchScope, VectorSource, VectorStore};
use orakgaraki::store::{MysqlStore, RecordStore, SqliteStore};
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
async fn completed(s: &dyn RecordStore, owner: &str, vector: Vec<f32>, now: i64) -> RecordId {
    let id = common::records::queued(s, owner, now).await;
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
        ids.push((completed(&*store, owner, unit(&mut rng), i).await, owner));
    }
    // Every third of bob's is public.
    for (n, (id, _)) in ids.iter().enumerate().filter(|(_, (_, o))| *o == "bob") {
        if n % 3 == 1 {
            store.set_visibility(id, Visibility::Public, None, 100).await.unwrap();
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

#[tokio::test]
async fn pgvector_is_rebuilt_from_mysql_and_kept_in_line() {
    let pg_url = std::env::var("TEST_PGVECTOR_URL")
        .expect("TEST_PGVECTOR_URL is not set: `bash scripts/test.sh` starts PostgreSQL with pgvector");
    let db = common::mysql::TestMysql::create().await;
    let store = Arc::new(MysqlStore::open(&db.url, 4).await.unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut ids = Vec::new();
    for i in 0..80 {
        let owner = ["ann", "bob", "cy", "dee"][i % 4];
        ids.push(completed(&*store, owner, unit(&mut rng), i as i64).await);
    }
    for id in ids.iter().skip(1).step_by(4).take(5) {
        store.set_visibility(id, Visibility::Public, None, 100).await.unwrap();
    }
    let table = format!("vv_test_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let params = PgParams {
        url: pg_url.clone(),
        table: table.clone(),
        dimensions: DIM,
        connectivity: 16,
        expansion_add: 64,
        expansion_search: 40,
    };
    let (vectors, report) = PgVectors::open(params.clone(), "test-model", "1", store.clone()).await.unwrap();
    assert_eq!((report.added, report.removed, vectors.len()), (80, 0, 80));

    let keys = store.vector_keys("test-model", "1").await.unwrap();
    let all: Vec<(i64, Vec<f32>)> =
        store.vector_page("test-model", "1", 0, 1000).await.unwrap().into_iter().map(|r| (r.key, r.vector)).collect();
    let label = |key: i64| keys.iter().find(|k| k.key == key).unwrap().clone();
    let q = unit(&mut rng);
    // Everything, and a narrow scope (one owner's + public): exact answers, never short.
    let everything = SearchScope { everything: true, ..Default::default() };
    let got: Vec<i64> =
        vectors.search(q.clone(), 10, everything.clone()).await.unwrap().iter().map(|h| h.key).collect();
    assert_eq!(got, brute_force(&all, &q, 10, |_| true));
    let scope = SearchScope { own: Some("ann".into()), public: true, ..Default::default() };
    let got: Vec<i64> = vectors.search(q.clone(), 30, scope).await.unwrap().iter().map(|h| h.key).collect();
    let want = brute_force(&all, &q, 30, |k| label(k).owner == "ann" || label(k).public);
    assert_eq!(got, want);
    assert_eq!(got.len(), 25, "ann's 20 and bob's 5 public ones");
    let own_only = SearchScope { own: Some("bob".into()), exclude: Some(keys[1].key), ..Default::default() };
    let got = vectors.search(q.clone(), 100, own_only).await.unwrap();
    assert_eq!(got.len(), 19, "bob's 20 but the excluded one");
    assert!(got.iter().all(|h| label(h.key).owner == "bob"));

    // Changes behind its back: a re-embedding (new key), a delete, a visibility change.
    let fresh = unit(&mut rng);
    assert!(store.put_embedding(&ids[0], &embedding(fresh.clone(), "1"), 200).await.unwrap());
    store.delete(&ids[2]).await.unwrap();
    store.set_visibility(&ids[3], Visibility::Public, None, 201).await.unwrap();
    let report = vectors.sync().await.unwrap();
    assert_eq!((report.added, report.removed), (1, 2), "{report:?}");
    assert_eq!(vectors.len(), 79);
    let hits = vectors.search(fresh, 1, everything.clone()).await.unwrap();
    assert!(hits[0].score > 0.9999, "{hits:?}");
    let public = SearchScope { public: true, ..Default::default() };
    let public_keys: Vec<i64> = vectors.search(q.clone(), 100, public).await.unwrap().iter().map(|h| h.key).collect();
    let d3 = store.vector_of_record(&ids[3], "test-model", "1").await.unwrap().unwrap().0.key;
    assert!(public_keys.contains(&d3), "visibility corrected by sync");
    assert_eq!(public_keys.len(), 6);

    // A second instance opening the same table finds it in line: nothing to add.
    let (second, report) = PgVectors::open(params, "test-model", "1", store.clone()).await.unwrap();
    assert_eq!((report.added, report.removed, second.len()), (0, 0, 79));

    let (client, conn) = tokio_postgres::connect(&pg_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("DROP TABLE {table}")).await.unwrap();
}
