//! `DeadLetterStore` over diesel-async, for every backend. Expanded inside
//! `record_store_impl!` (records.rs), whose helpers it uses: `load` (with the
//! backend's row lock), `transition`, `enqueue`, `retrying`, `DbConn`.

macro_rules! dead_letter_store_impl {
    ($store:ty) => {
        use diesel::TextExpressionMethods;
        use diesel::expression_methods::EscapeExpressionMethods;
        use $crate::domain::dead_letter::{AttemptView, AuditEntry, DeadLetter, DeadLetterAction, DeadLetterFilter};
        use $crate::store::DeadLetterStore;
        use $crate::store::db::schema::dead_letter_audit;

        /// `row` as a dead letter; `NotDeadLetter` unless it is FAILED.
        fn as_dead_letter(row: &RecordRow) -> Result<DeadLetter, StoreError> {
            let status = row.status()?;
            if status != RecordStatus::Failed {
                return Err(StoreError::NotDeadLetter(status));
            }
            Ok(DeadLetter {
                record_id: row.record_id()?,
                owner: row.owner.clone(),
                filename: row.filename.clone(),
                size: row.size,
                content_hash: row.content_hash.clone(),
                failed_at: $crate::domain::record::rfc3339_millis(row.updated_at),
                attempts: row.attempts,
                error: row.error.clone(),
            })
        }

        async fn history_of(conn: &mut DbConn, id: &str) -> Result<Vec<AttemptView>, StoreError> {
            let rows: Vec<(i32, String, i64, i64, String, Option<String>)> = attempts::table
                .filter(attempts::record_id.eq(id))
                .order((attempts::attempt.asc(), attempts::id.asc()))
                .select((
                    attempts::attempt,
                    attempts::worker,
                    attempts::started_at,
                    attempts::finished_at,
                    attempts::outcome,
                    attempts::error,
                ))
                .load(conn)
                .await?;
            Ok(rows.into_iter().map(|(a, w, s, f, o, e)| AttemptView::new(a, w, s, f, o, e)).collect())
        }

        /// Writes the audit row for `action` on `row` (as it is now, with its history).
        async fn audit(
            conn: &mut DbConn,
            row: &RecordRow,
            action: DeadLetterAction,
            admin: &str,
            now: i64,
        ) -> Result<(), StoreError> {
            let history = history_of(conn, &row.id).await?;
            let history = serde_json::to_string(&history).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            diesel::insert_into(dead_letter_audit::table)
                .values((
                    dead_letter_audit::record_id.eq(&row.id),
                    dead_letter_audit::owner.eq(&row.owner),
                    dead_letter_audit::filename.eq(&row.filename),
                    dead_letter_audit::action.eq(action.as_str()),
                    dead_letter_audit::admin.eq(admin),
                    dead_letter_audit::at.eq(now),
                    dead_letter_audit::error.eq(row.error.as_deref()),
                    dead_letter_audit::attempts.eq(row.attempts),
                    dead_letter_audit::history.eq(history),
                ))
                .execute(conn)
                .await?;
            Ok(())
        }

        /// `%text%` for LIKE, with LIKE's wildcards in `text` escaped.
        fn contains_pattern(text: &str) -> String {
            let mut p = String::with_capacity(text.len() + 2);
            p.push('%');
            for c in text.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(c);
            }
            p.push('%');
            p
        }

        #[async_trait]
        impl DeadLetterStore for $store {
            async fn dead_letters(
                &self,
                filter: &DeadLetterFilter,
                limit: i64,
                after: Option<&ListCursor>,
            ) -> Result<Vec<(DeadLetter, i64)>, StoreError> {
                let mut conn = self.read().await?;
                let mut query = records::table
                    .filter(records::status.eq(RecordStatus::Failed.as_str()))
                    .select(RecordRow::as_select())
                    .order((records::updated_at.desc(), records::id.desc()))
                    .limit(limit)
                    .into_boxed();
                if let Some(owner) = &filter.owner {
                    query = query.filter(records::owner.eq(owner.clone()));
                }
                if let Some(text) = &filter.error_contains {
                    query = query.filter(records::error.like(contains_pattern(text)).escape('\\'));
                }
                if let Some(t) = filter.failed_after {
                    query = query.filter(records::updated_at.ge(t));
                }
                if let Some(t) = filter.failed_before {
                    query = query.filter(records::updated_at.lt(t));
                }
                if let Some(c) = after {
                    query = query.filter(
                        records::updated_at
                            .lt(c.created_at)
                            .or(records::updated_at.eq(c.created_at).and(records::id.lt(c.id.clone()))),
                    );
                }
                let rows: Vec<RecordRow> = query.load(&mut *conn).await?;
                rows.iter().map(|r| Ok((as_dead_letter(r)?, r.updated_at))).collect()
            }

            async fn dead_letter(&self, id: &RecordId) -> Result<DeadLetter, StoreError> {
                let mut conn = self.read().await?;
                let row: Option<RecordRow> = records::table
                    .find(id.as_str())
                    .select(RecordRow::as_select())
                    .first(&mut *conn)
                    .await
                    .optional()?;
                as_dead_letter(&row.ok_or(StoreError::NotFound)?)
            }

            async fn attempt_history(&self, id: &RecordId) -> Result<Vec<AttemptView>, StoreError> {
                let mut conn = self.read().await?;
                history_of(&mut *conn, id.as_str()).await
            }

            async fn requeue_dead_letter(
                &self,
                id: &RecordId,
                admin: &str,
                now: i64,
            ) -> Result<StatusEvent, StoreError> {
                retrying(|| async {
                    let mut conn = self.write().await?;
                    let ob = self.outbox_on();
                    let (id, admin) = (id.as_str().to_owned(), admin.to_owned());
                    conn.transaction::<_, StoreError, _>(async move |conn| {
                        let row = load(conn, &id).await?.ok_or(StoreError::NotFound)?;
                        as_dead_letter(&row)?;
                        audit(conn, &row, DeadLetterAction::Requeue, &admin, now).await?;
                        transition(conn, ob, row, RecordStatus::Queued, now, |r| {
                            enqueue(r, now);
                            r.attempt_base = r.attempts;
                            r.error = None;
                        })
                        .await
                    })
                    .await
                })
                .await
            }

            async fn discard_dead_letter(&self, id: &RecordId, admin: &str, now: i64) -> Result<String, StoreError> {
                retrying(|| async {
                    let mut conn = self.write().await?;
                    let (id, admin) = (id.as_str().to_owned(), admin.to_owned());
                    conn.transaction::<_, StoreError, _>(async move |conn| {
                        let row = load(conn, &id).await?.ok_or(StoreError::NotFound)?;
                        as_dead_letter(&row)?;
                        audit(conn, &row, DeadLetterAction::Discard, &admin, now).await?;
                        diesel::delete(analyses::table.find(&id)).execute(conn).await?;
                        diesel::delete(embeddings::table.filter(embeddings::record_id.eq(&id))).execute(conn).await?;
                        diesel::delete(attempts::table.filter(attempts::record_id.eq(&id))).execute(conn).await?;
                        diesel::delete(records::table.find(&id)).execute(conn).await?;
                        Ok(row.object_key)
                    })
                    .await
                })
                .await
            }

            async fn forget_audit_identities(&self, cutoff: i64) -> Result<u64, StoreError> {
                let mut conn = self.write().await?;
                let n = diesel::update(
                    dead_letter_audit::table
                        .filter(dead_letter_audit::at.lt(cutoff))
                        .filter(dead_letter_audit::owner.ne("").or(dead_letter_audit::filename.ne(""))),
                )
                .set((dead_letter_audit::owner.eq(""), dead_letter_audit::filename.eq("")))
                .execute(&mut *conn)
                .await?;
                Ok(n as u64)
            }

            async fn dead_letter_audit(
                &self,
                record_id: Option<&str>,
                before: Option<i64>,
                limit: i64,
            ) -> Result<Vec<AuditEntry>, StoreError> {
                let mut conn = self.read().await?;
                let mut query = dead_letter_audit::table
                    .select((
                        dead_letter_audit::id,
                        dead_letter_audit::record_id,
                        dead_letter_audit::owner,
                        dead_letter_audit::filename,
                        dead_letter_audit::action,
                        dead_letter_audit::admin,
                        dead_letter_audit::at,
                        dead_letter_audit::error,
                        dead_letter_audit::attempts,
                        dead_letter_audit::history,
                    ))
                    .order(dead_letter_audit::id.desc())
                    .limit(limit)
                    .into_boxed();
                if let Some(r) = record_id {
                    query = query.filter(dead_letter_audit::record_id.eq(r.to_owned()));
                }
                if let Some(b) = before {
                    query = query.filter(dead_letter_audit::id.lt(b));
                }
                type AuditRow = (i64, String, String, String, String, String, i64, Option<String>, i32, String);
                let rows: Vec<AuditRow> = query.load(&mut *conn).await?;
                rows.into_iter()
                    .map(|(id, record_id, owner, filename, action, admin, at, error, attempts, history)| {
                        Ok(AuditEntry {
                            id,
                            action: DeadLetterAction::parse(&action)
                                .ok_or_else(|| StoreError::Corrupt(format!("audit row {id}: action {action}")))?,
                            history: serde_json::from_str(&history)
                                .map_err(|e| StoreError::Corrupt(format!("audit row {id}: {e}")))?,
                            at: $crate::domain::record::rfc3339_millis(at),
                            record_id,
                            owner,
                            filename,
                            admin,
                            error,
                            attempts,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use dead_letter_store_impl;
