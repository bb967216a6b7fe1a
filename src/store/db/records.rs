//! `RecordStore` over diesel-async, written once for every backend: each status
//! change is a guarded row update (`WHERE seq = <seen>`) inside a transaction,
//! returning the event that announces it.
//!
//! A macro rather than generic code: diesel's query types are backend-specific,
//! and spelling out the bounds for every query generically would be longer than
//! the queries. `record_store_impl!(Store, Conn, Backend, row_lock = {..}, claim_lock = {..})`
//! implements the trait for `Store` (which has `read()`/`write()` giving pooled `Conn`s);
//! the lock clauses are appended to the reads that precede a guarded update
//! (empty for SQLite, whose single writer serialises them; `FOR UPDATE` and
//! `FOR UPDATE SKIP LOCKED` for MySQL, where several instances claim jobs at once).

macro_rules! record_store_impl {
    ($store:ty, $conn:ty, $backend:ty, row_lock = {$($row_lock:tt)*}, claim_lock = {$($claim_lock:tt)*}) => {
const _: () = {
use $crate::store::db::models::{EmbeddingTag, NewAnalysisRow, NewAttemptRow, NewEmbeddingRow, NewRecordRow, RecordRow};
use $crate::store::db::schema::{analyses, attempts, embeddings, outbox, records};
use $crate::domain::{Analysis, Embedding, FailureOutcome, Job, RecordId, RecordStatus, StatusEvent, Visibility};
use $crate::store::{LeaseScope, ListCursor, NewRecord, OwnerUsage, RecordStore, StaleEmbedding, StoreError, StoredRecord};
use async_trait::async_trait;
use diesel::prelude::AsChangeset;
use diesel::{
    BoolExpressionMethods, ExpressionMethods, NullableExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper,
};
use diesel_async::{AsyncConnection, RunQueryDsl};

type DbConn = $conn;

/// The columns a transition may change.
#[derive(AsChangeset)]
#[diesel(table_name = records, treat_none_as_null = true)]
struct Mutable<'a> {
    status: &'a str,
    seq: i64,
    attempts: i32,
    attempt_base: i32,
    error: Option<&'a str>,
    size: Option<i64>,
    content_hash: Option<&'a str>,
    queued_at: Option<i64>,
    next_attempt_at: Option<i64>,
    lease_owner: Option<&'a str>,
    lease_until: Option<i64>,
    updated_at: i64,
}

async fn load(conn: &mut DbConn, id: &str) -> Result<Option<RecordRow>, StoreError> {
    Ok(records::table.find(id).select(RecordRow::as_select())$($row_lock)*.first(conn).await.optional()?)
}

/// Moves `row` to `to` after `edit` adjusts its other columns; refuses illegal
/// transitions and concurrent changes.
async fn transition(
    conn: &mut DbConn,
    outbox: bool,
    mut row: RecordRow,
    to: RecordStatus,
    now: i64,
    edit: impl FnOnce(&mut RecordRow),
) -> Result<StatusEvent, StoreError> {
    row.status()?.check_transition(to)?;
    let seen = row.seq;
    row.status = to.as_str().to_owned();
    row.seq += 1;
    row.updated_at = now;
    edit(&mut row);
    let changes = Mutable {
        status: &row.status,
        seq: row.seq,
        attempts: row.attempts,
        attempt_base: row.attempt_base,
        error: row.error.as_deref(),
        size: row.size,
        content_hash: row.content_hash.as_deref(),
        queued_at: row.queued_at,
        next_attempt_at: row.next_attempt_at,
        lease_owner: row.lease_owner.as_deref(),
        lease_until: row.lease_until,
        updated_at: row.updated_at,
    };
    let n = diesel::update(records::table.filter(records::id.eq(&row.id)).filter(records::seq.eq(seen)))
        .set(changes)
        .execute(conn)
        .await?;
    if n != 1 {
        return Err(StoreError::Database(format!("record {} changed concurrently", row.id)));
    }
    let event = row.event()?;
    if outbox {
        announce(conn, &row, &event, now).await?;
    }
    Ok(event)
}

/// Writes the outbox row announcing `event` of `row`, if its status has one.
async fn announce(conn: &mut DbConn, row: &RecordRow, event: &StatusEvent, now: i64) -> Result<(), StoreError> {
    if let Some(a) = $crate::domain::outbox::announcement(&row.owner, &row.object_key, event) {
        diesel::insert_into(outbox::table)
            .values((
                outbox::topic.eq(a.topic),
                outbox::msg_key.eq(&a.key),
                outbox::payload.eq(&a.payload),
                outbox::created_at.eq(now),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

fn clear_lease(row: &mut RecordRow) {
    row.lease_owner = None;
    row.lease_until = None;
}

fn enqueue(row: &mut RecordRow, now: i64) {
    clear_lease(row);
    row.queued_at = Some(now);
    row.next_attempt_at = None;
}

async fn log_attempt(
    conn: &mut DbConn,
    row: &RecordRow,
    started_at: i64,
    now: i64,
    outcome: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(attempts::table)
        .values(NewAttemptRow {
            record_id: &row.id,
            attempt: row.attempts,
            worker: row.lease_owner.as_deref().unwrap_or(""),
            started_at,
            finished_at: now,
            outcome,
            error: row.error.as_deref(),
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// Runs `attempt` again (a few times, after a short random pause) when the
/// database aborted it to break a deadlock or a lock wait: InnoDB asks clients to
/// retry such transactions. SQLite's single writer never needs it.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut tries = 0u32;
    loop {
        match attempt().await {
            Err(e) if e.is_lock_conflict() && tries < 6 => {
                tries += 1;
                let ms = rand::random_range(1..=(5u64 << tries));
                tracing::debug!(error = %e, tries, "transaction aborted by a lock conflict; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            other => return other,
        }
    }
}

/// Leases a QUEUED `row` to `owner` until `lease_until` (QUEUED → PROCESSING):
/// the job to hand to a worker and the event announcing it.
async fn take_lease(
    conn: &mut DbConn,
    ob: bool,
    row: RecordRow,
    owner: &str,
    lease_until: i64,
    now: i64,
) -> Result<(Job, StatusEvent), StoreError> {
    let job = Job {
        record_id: row.record_id()?,
        object_key: row.object_key.clone(),
        filename: row.filename.clone(),
        attempt: row.attempts + 1,
        retry_attempt: row.attempts + 1 - row.attempt_base,
        queued_at: row.queued_at.unwrap_or(now),
        lease_owner: owner.to_owned(),
        claimed_at: now,
    };
    let event = transition(conn, ob, row, RecordStatus::Processing, now, |r| {
        r.attempts += 1;
        r.lease_owner = Some(owner.to_owned());
        r.lease_until = Some(lease_until);
    })
    .await?;
    Ok((job, event))
}

/// The row when it is still PROCESSING under this job's lease, else `None`.
async fn load_leased(conn: &mut DbConn, job: &Job) -> Result<Option<RecordRow>, StoreError> {
    Ok(load(conn, job.record_id.as_str()).await?.filter(|row| {
        row.status == RecordStatus::Processing.as_str()
            && row.attempts == job.attempt
            && row.lease_owner.as_deref() == Some(job.lease_owner.as_str())
    }))
}

#[async_trait]
impl RecordStore for $store {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        diesel::sql_query("SELECT 1").execute(&mut *conn).await?;
        Ok(())
    }

    async fn create_pending(&self, new: NewRecord) -> Result<StoredRecord, StoreError> {
        let mut conn = self.write().await?;
        let key = new.id.object_key();
        let metadata = new.metadata.as_ref().map(|m| m.to_string());
        diesel::insert_into(records::table)
            .values(NewRecordRow {
                id: new.id.as_str(),
                owner: &new.owner,
                status: RecordStatus::Pending.as_str(),
                seq: 0,
                filename: &new.filename,
                content_type: &new.content_type,
                declared_size: new.declared_size,
                object_key: &key,
                metadata,
                attempts: 0,
                upload_expires_at: new.upload_expires_at,
                created_at: new.now,
                updated_at: new.now,
            })
            .execute(&mut *conn)
            .await?;
        let row = load(&mut conn, new.id.as_str()).await?.ok_or(StoreError::NotFound)?;
        row.into_stored(None, (None, None))
    }

    async fn get(&self, id: &RecordId) -> Result<Option<StoredRecord>, StoreError> {
        let mut conn = self.read().await?;
        let found: Option<(RecordRow, Option<String>, EmbeddingTag)> = records::table
            .left_join(analyses::table)
            .left_join(embeddings::table)
            .filter(records::id.eq(id.as_str()))
            .select((
                RecordRow::as_select(),
                analyses::analysis.nullable(),
                (embeddings::model.nullable(), embeddings::version.nullable()),
            ))
            // At most one row (a primary key and two one-to-one joins), so no
            // `LIMIT ?`: SQLite re-prepares a statement whose LIMIT is a bound
            // parameter on every execution, which made this hot read 14 % parsing.
            .load(&mut *conn)
            .await?
            .into_iter()
            .next();
        found.map(|(row, analysis, tag)| row.into_stored(analysis, tag)).transpose()
    }

    async fn owner_usage(&self, owner: &str) -> Result<OwnerUsage, StoreError> {
        let mut conn = self.read().await?;
        let rows: Vec<(String, Option<i64>, i64)> = records::table
            .filter(records::owner.eq(owner))
            .select((records::status, records::size, records::declared_size))
            .load(&mut *conn)
            .await?;
        let mut usage = OwnerUsage::default();
        for (status, size, declared) in rows {
            let terminal = status.parse::<RecordStatus>().is_ok_and(|s| s.is_terminal());
            usage.active += i64::from(!terminal);
            usage.bytes = usage.bytes.saturating_add(size.unwrap_or(declared).max(0));
        }
        Ok(usage)
    }

    async fn erase_owner_traces(&self, owner: &str) -> Result<u64, StoreError> {
        use $crate::store::db::schema::{dead_letter_audit, song_dislikes};
        let mut conn = self.write().await?;
        let owner = owner.to_owned();
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let mut n = diesel::delete(song_dislikes::table.filter(song_dislikes::owner.eq(&owner)))
                .execute(conn)
                .await?;
            n += diesel::delete(outbox::table.filter(outbox::msg_key.eq(&owner))).execute(conn).await?;
            n += diesel::update(dead_letter_audit::table.filter(dead_letter_audit::owner.eq(&owner)))
                .set((dead_letter_audit::owner.eq(""), dead_letter_audit::filename.eq("")))
                .execute(conn)
                .await?;
            Ok(n as u64)
        })
        .await
    }

    async fn list_for_owner(
        &self,
        owner: &str,
        limit: i64,
        after: Option<&ListCursor>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let mut conn = self.read().await?;
        let mut query = records::table
            .left_join(analyses::table)
            .left_join(embeddings::table)
            .filter(records::owner.eq(owner))
            .select((
                RecordRow::as_select(),
                analyses::analysis.nullable(),
                (embeddings::model.nullable(), embeddings::version.nullable()),
            ))
            .order((records::created_at.desc(), records::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(c) = after {
            query = query.filter(
                records::created_at
                    .lt(c.created_at)
                    .or(records::created_at.eq(c.created_at).and(records::id.lt(c.id.clone()))),
            );
        }
        let rows: Vec<(RecordRow, Option<String>, EmbeddingTag)> = query.load(&mut *conn).await?;
        rows.into_iter().map(|(row, analysis, tag)| row.into_stored(analysis, tag)).collect()
    }

    async fn set_visibility(
        &self,
        id: &RecordId,
        visibility: Visibility,
        display_name: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.write().await?;
        let n = diesel::update(records::table.find(id.as_str()))
            .set((
                records::visibility.eq(visibility.as_str()),
                records::display_name.eq(display_name),
                records::updated_at.eq(now),
            ))
            .execute(&mut *conn)
            .await?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn set_metadata(&self, id: &RecordId, metadata: &serde_json::Value, now: i64) -> Result<(), StoreError> {
        let mut conn = self.write().await?;
        let n = diesel::update(records::table.find(id.as_str()))
            .set((records::metadata.eq(metadata.to_string()), records::updated_at.eq(now)))
            .execute(&mut *conn)
            .await?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn mark_uploaded(
        &self,
        id: &RecordId,
        size: i64,
        content_hash: &str,
        now: i64,
    ) -> Result<Vec<StatusEvent>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let ob = self.outbox_on();
            let id = id.as_str().to_owned();
            let hash = content_hash.to_owned();
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let row = load(conn, &id).await?.ok_or(StoreError::NotFound)?;
                let uploaded = transition(conn, ob, row, RecordStatus::Uploaded, now, |r| {
                    r.size = Some(size);
                    r.content_hash = Some(hash);
                })
                .await?;
                let row = load(conn, &id).await?.ok_or(StoreError::NotFound)?;
                let queued = transition(conn, ob, row, RecordStatus::Queued, now, |r| enqueue(r, now)).await?;
                Ok(vec![uploaded, queued])
            })
            .await
        })
        .await
    }

    async fn claim_jobs(
        &self,
        max: usize,
        owner: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<Vec<(Job, StatusEvent)>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        retrying(|| async {
            let mut conn = self.write().await?;
            let ob = self.outbox_on();
            let owner = owner.to_owned();
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let rows: Vec<RecordRow> = records::table
                    .filter(records::status.eq(RecordStatus::Queued.as_str()))
                    .order((records::queued_at.asc(), records::id.asc()))
                    .limit(i64::try_from(max).unwrap_or(i64::MAX))
                    .select(RecordRow::as_select())
                    $($claim_lock)*
                    .load(conn)
                    .await?;
                let mut claimed = Vec::with_capacity(rows.len());
                for row in rows {
                    claimed.push(take_lease(conn, ob, row, &owner, lease_until, now).await?);
                }
                Ok(claimed)
            })
            .await
        })
        .await
    }

    async fn claim_job(
        &self,
        id: &RecordId,
        owner: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<Option<(Job, StatusEvent)>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let ob = self.outbox_on();
            let (id, owner) = (id.as_str().to_owned(), owner.to_owned());
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let Some(row) = load(conn, &id).await? else {
                    return Ok(None);
                };
                if row.status != RecordStatus::Queued.as_str() {
                    return Ok(None);
                }
                Ok(Some(take_lease(conn, ob, row, &owner, lease_until, now).await?))
            })
            .await
        })
        .await
    }

    fn enable_outbox(&self) {
        self.outbox.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    async fn outbox_pending(&self, limit: i64) -> Result<Vec<$crate::store::OutboxRow>, StoreError> {
        let mut conn = self.read().await?;
        let rows: Vec<(i64, String, String, String)> = outbox::table
            .select((outbox::id, outbox::topic, outbox::msg_key, outbox::payload))
            .order(outbox::id.asc())
            .limit(limit)
            .load(&mut *conn)
            .await?;
        Ok(rows.into_iter().map(|(id, topic, key, payload)| $crate::store::OutboxRow { id, topic, key, payload }).collect())
    }

    async fn outbox_done(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut conn = self.write().await?;
        for chunk in ids.chunks(1000) {
            diesel::delete(outbox::table.filter(outbox::id.eq_any(chunk))).execute(&mut *conn).await?;
        }
        Ok(())
    }

    async fn complete(&self, job: &Job, analysis: &Analysis, now: i64) -> Result<Option<StatusEvent>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let ob = self.outbox_on();
            // The vector lives in `embeddings` (the source of truth for the vector index), not in the JSON.
            let embedding = analysis.embedding.clone().filter(|e| !e.vector.is_empty());
            let mut stripped = analysis.clone();
            stripped.embedding = None;
            let json = serde_json::to_string(&stripped).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let job = job.clone();
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let Some(row) = load_leased(conn, &job).await? else {
                    return Ok(None);
                };
                log_attempt(conn, &row, job.claimed_at, now, "completed").await?;
                diesel::delete(analyses::table.find(job.record_id.as_str())).execute(conn).await?;
                diesel::insert_into(analyses::table)
                    .values(NewAnalysisRow { record_id: job.record_id.as_str(), analysis: json, created_at: now })
                    .execute(conn)
                    .await?;
                diesel::delete(embeddings::table.filter(embeddings::record_id.eq(job.record_id.as_str())))
                    .execute(conn)
                    .await?;
                if let Some(e) = &embedding {
                    insert_embedding(conn, job.record_id.as_str(), e, now).await?;
                }
                let ev = transition(conn, ob, row, RecordStatus::Completed, now, |r| {
                    clear_lease(r);
                    r.error = None;
                })
                .await?;
                Ok(Some(ev))
            })
            .await
        })
        .await
    }

    async fn embedding(&self, id: &RecordId) -> Result<Option<Embedding>, StoreError> {
        let mut conn = self.read().await?;
        let row: Option<(String, String, Vec<u8>)> = embeddings::table
            .filter(embeddings::record_id.eq(id.as_str()))
            .select((embeddings::model, embeddings::version, embeddings::vector))
            .first(&mut *conn)
            .await
            .optional()?;
        row.map(|(model, version, bytes)| {
            let vector = Embedding::vector_from_bytes(&bytes)
                .ok_or_else(|| StoreError::Corrupt(format!("embedding of {id}: {} bytes", bytes.len())))?;
            Ok(Embedding { model, version, vector })
        })
        .transpose()
    }

    async fn put_embedding(&self, id: &RecordId, embedding: &Embedding, now: i64) -> Result<bool, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let (id, embedding) = (id.as_str().to_owned(), embedding.clone());
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let status: Option<String> =
                    records::table.find(&id).select(records::status).first(conn).await.optional()?;
                if status.as_deref() != Some(RecordStatus::Completed.as_str()) {
                    return Ok(false);
                }
                diesel::delete(embeddings::table.filter(embeddings::record_id.eq(&id))).execute(conn).await?;
                insert_embedding(conn, &id, &embedding, now).await?;
                Ok(true)
            })
            .await
        })
        .await
    }

    async fn stale_embeddings(
        &self,
        model: &str,
        version: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StaleEmbedding>, StoreError> {
        let mut conn = self.read().await?;
        let mut query = stale_embeddings_query(model, version)
            .select((records::id, records::object_key, records::filename))
            .order(records::id.asc())
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(records::id.gt(after.to_owned()));
        }
        let rows: Vec<(String, String, String)> = query.load(&mut *conn).await?;
        rows.into_iter()
            .map(|(id, object_key, filename)| {
                Ok(StaleEmbedding {
                    record_id: RecordId::parse(&id).map_err(|e| StoreError::Corrupt(format!("record id {id}: {e}")))?,
                    object_key,
                    filename,
                })
            })
            .collect()
    }

    async fn count_stale_embeddings(&self, model: &str, version: &str) -> Result<i64, StoreError> {
        let mut conn = self.read().await?;
        Ok(stale_embeddings_query(model, version).count().get_result(&mut *conn).await?)
    }

    async fn fail(
        &self,
        job: &Job,
        error: &str,
        outcome: FailureOutcome,
        now: i64,
    ) -> Result<Option<StatusEvent>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let ob = self.outbox_on();
            let job = job.clone();
            let error = error.to_owned();
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let Some(mut row) = load_leased(conn, &job).await? else {
                    return Ok(None);
                };
                row.error = Some(error);
                let (to, label) = match outcome {
                    FailureOutcome::RetryAt(_) => (RecordStatus::Retrying, "retrying"),
                    FailureOutcome::Dead => (RecordStatus::Failed, "failed"),
                };
                log_attempt(conn, &row, job.claimed_at, now, label).await?;
                let ev = transition(conn, ob, row, to, now, |r| {
                    clear_lease(r);
                    r.next_attempt_at = match outcome {
                        FailureOutcome::RetryAt(at) => Some(at),
                        FailureOutcome::Dead => None,
                    };
                })
                .await?;
                Ok(Some(ev))
            })
            .await
        })
        .await
    }

    async fn release_due_retries(&self, now: i64) -> Result<Vec<StatusEvent>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let ob = self.outbox_on();
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let rows: Vec<RecordRow> = records::table
                    .filter(records::status.eq(RecordStatus::Retrying.as_str()))
                    .filter(records::next_attempt_at.le(now))
                    .select(RecordRow::as_select())
                    $($claim_lock)*
                    .load(conn)
                    .await?;
                let mut events = Vec::with_capacity(rows.len());
                for row in rows {
                    events.push(transition(conn, ob, row, RecordStatus::Queued, now, |r| enqueue(r, now)).await?);
                }
                Ok(events)
            })
            .await
        })
        .await
    }

    async fn reclaim_leases(
        &self,
        now: i64,
        scope: LeaseScope<'_>,
        max_attempts: i32,
    ) -> Result<Vec<StatusEvent>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let ob = self.outbox_on();
            // Owned copy: the transaction's future must be 'static.
            enum Scope {
                Expired,
                OwnedBy(String),
                NotOwnedBy(String),
            }
            let scope = match scope {
                LeaseScope::Expired => Scope::Expired,
                LeaseScope::OwnedBy(me) => Scope::OwnedBy(me.to_owned()),
                LeaseScope::NotOwnedBy(me) => Scope::NotOwnedBy(me.to_owned()),
            };
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let mut query = records::table
                    .filter(records::status.eq(RecordStatus::Processing.as_str()))
                    .select(RecordRow::as_select())
                    .into_boxed();
                query = match scope {
                    Scope::OwnedBy(me) => query.filter(records::lease_owner.eq(me)),
                    Scope::NotOwnedBy(me) => query.filter(records::lease_owner.ne(me).or(records::lease_owner.is_null())),
                    Scope::Expired => query.filter(records::lease_until.lt(now)),
                };
                let candidates: Vec<RecordRow> = query.load(conn).await?;
                let mut events = Vec::with_capacity(candidates.len());
                for seen in candidates {
                    // Locked and checked again: another instance may be reclaiming it too.
                    let Some(mut row) = load(conn, &seen.id).await? else { continue };
                    if row.seq != seen.seq {
                        continue;
                    }
                    let exhausted = row.attempts - row.attempt_base >= max_attempts;
                    row.error = Some(format!("attempt {} was interrupted: its lease expired", row.attempts));
                    log_attempt(conn, &row, row.updated_at, now, "lease_expired").await?;
                    let ev = if exhausted {
                        transition(conn, ob, row, RecordStatus::Failed, now, clear_lease).await?
                    } else {
                        transition(conn, ob, row, RecordStatus::Queued, now, |r| enqueue(r, now)).await?
                    };
                    events.push(ev);
                }
                Ok(events)
            })
            .await
        })
        .await
    }

    async fn pending_uploads(&self, created_before: i64, limit: i64) -> Result<Vec<(RecordId, String)>, StoreError> {
        let mut conn = self.read().await?;
        let rows: Vec<(String, String)> = records::table
            .filter(records::status.eq(RecordStatus::Pending.as_str()))
            .filter(records::created_at.lt(created_before))
            .order((records::created_at.asc(), records::id.asc()))
            .limit(limit)
            .select((records::id, records::object_key))
            .load(&mut *conn)
            .await?;
        rows.into_iter()
            .map(|(id, key)| {
                let id = RecordId::parse(&id).map_err(|e| StoreError::Corrupt(format!("record id {id}: {e}")))?;
                Ok((id, key))
            })
            .collect()
    }

    async fn reannounce_queued(&self, queued_before: i64, now: i64, limit: i64) -> Result<Vec<RecordId>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let ob = self.outbox_on();
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let rows: Vec<RecordRow> = records::table
                    .filter(records::status.eq(RecordStatus::Queued.as_str()))
                    .filter(records::queued_at.lt(queued_before))
                    .order((records::queued_at.asc(), records::id.asc()))
                    .limit(limit)
                    .select(RecordRow::as_select())
                    $($claim_lock)*
                    .load(conn)
                    .await?;
                let mut ids = Vec::with_capacity(rows.len());
                for row in rows {
                    if ob {
                        announce(conn, &row, &row.event()?, now).await?;
                        diesel::update(records::table.filter(records::id.eq(&row.id)).filter(records::seq.eq(row.seq)))
                            .set(records::queued_at.eq(now))
                            .execute(conn)
                            .await?;
                    }
                    ids.push(row.record_id()?);
                }
                Ok(ids)
            })
            .await
        })
        .await
    }

    async fn expire_pending(&self, cutoff: i64) -> Result<Vec<String>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let stale = records::table
                    .filter(records::status.eq(RecordStatus::Pending.as_str()))
                    .filter(records::created_at.lt(cutoff));
                let keys: Vec<String> = stale.select(records::object_key).load(conn).await?;
                diesel::delete(stale).execute(conn).await?;
                Ok(keys)
            })
            .await
        })
        .await
    }

    async fn delete(&self, id: &RecordId) -> Result<Option<String>, StoreError> {
        retrying(|| async {
            let mut conn = self.write().await?;
            let id = id.as_str().to_owned();
            conn.transaction::<_, StoreError, _>(async move |conn| {
                let Some(row) = load(conn, &id).await? else {
                    return Ok(None);
                };
                diesel::delete(analyses::table.find(&id)).execute(conn).await?;
                diesel::delete(embeddings::table.filter(embeddings::record_id.eq(&id))).execute(conn).await?;
                diesel::delete(attempts::table.filter(attempts::record_id.eq(&id))).execute(conn).await?;
                // Announcements not yet sent to Kafka carry the owner and the record.
                let announced = format!("%\"record_id\":\"{id}\"%");
                diesel::delete(outbox::table.filter(outbox::msg_key.eq(&row.owner)).filter(outbox::payload.like(announced)))
                    .execute(conn)
                    .await?;
                diesel::delete(records::table.find(&id)).execute(conn).await?;
                Ok(Some(row.object_key))
            })
            .await
        })
        .await
    }

    async fn count_by_status(&self) -> Result<Vec<(RecordStatus, i64)>, StoreError> {
        let mut conn = self.read().await?;
        let rows: Vec<(String, i64)> = records::table
            .group_by(records::status)
            .select((records::status, diesel::dsl::count_star()))
            .load(&mut *conn)
            .await?;
        rows.into_iter()
            .map(|(s, n)| {
                s.parse()
                    .map(|st| (st, n))
                    .map_err(|e: crate::domain::status::UnknownStatus| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }
}

/// COMPLETED records whose embedding is missing or not from `model` at `version`.
fn stale_embeddings_query<'a>(
    model: &'a str,
    version: &'a str,
) -> diesel::dsl::IntoBoxed<'a, diesel::dsl::LeftJoin<records::table, embeddings::table>, $backend> {
    records::table
        .left_join(embeddings::table)
        .filter(records::status.eq(RecordStatus::Completed.as_str()))
        .filter(embeddings::model.is_null().or(embeddings::model.ne(model)).or(embeddings::version.ne(version)))
        .into_boxed()
}

$crate::store::db::dead_letters::dead_letter_store_impl!($store);

async fn insert_embedding(conn: &mut DbConn, id: &str, e: &Embedding, now: i64) -> Result<(), StoreError> {
    let dim = i32::try_from(e.vector.len()).map_err(|_| StoreError::Corrupt("embedding too long".into()))?;
    diesel::insert_into(embeddings::table)
        .values(NewEmbeddingRow {
            record_id: id,
            model: &e.model,
            version: &e.version,
            dim,
            vector: e.vector_bytes(),
            created_at: now,
        })
        .execute(conn)
        .await?;
    Ok(())
}

};
    };
}

pub(crate) use record_store_impl;
