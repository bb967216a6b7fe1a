//! `VectorSource`, written once for every diesel backend (`vector_source_impl!(Store)`):
//! what the vector index reads from the `embeddings` table (joined with
//! `records` for owner and visibility).

use crate::domain::{Embedding, Visibility};
use crate::store::StoreError;
use crate::store::vectors::VectorKey;

/// SQLite's limit on bound parameters is 32 766 (MySQL's 65 535); stay well below both.
pub(crate) const IN_CHUNK: usize = 10_000;

pub(crate) fn vector(key: i64, bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
    Embedding::vector_from_bytes(bytes)
        .ok_or_else(|| StoreError::Corrupt(format!("embedding {key}: {} bytes", bytes.len())))
}

pub(crate) fn key_of((key, owner, visibility): (i64, String, String)) -> VectorKey {
    VectorKey { key, owner, public: visibility == Visibility::Public.as_str() }
}

macro_rules! vector_source_impl {
    ($store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use diesel::{ExpressionMethods, NullableExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
            use diesel_async::RunQueryDsl;
            use $crate::domain::RecordId;
            use $crate::store::db::models::{EmbeddingTag, RecordRow};
            use $crate::store::db::schema::{analyses, embeddings, records};
            use $crate::store::db::vector_source::{IN_CHUNK, key_of, vector};
            use $crate::store::vectors::{VectorKey, VectorRow, VectorSource};
            use $crate::store::{StoreError, StoredRecord};

            #[async_trait]
            impl VectorSource for $store {
                async fn vector_state(&self, model: &str, version: &str) -> Result<(i64, i64), StoreError> {
                    let mut conn = self.read().await?;
                    let (count, max): (i64, Option<i64>) = embeddings::table
                        .filter(embeddings::model.eq(model))
                        .filter(embeddings::version.eq(version))
                        .select((diesel::dsl::count_star(), diesel::dsl::max(embeddings::vec_key)))
                        .first(&mut *conn)
                        .await?;
                    Ok((count, max.unwrap_or(0)))
                }

                async fn vector_keys(&self, model: &str, version: &str) -> Result<Vec<VectorKey>, StoreError> {
                    let mut conn = self.read().await?;
                    let rows: Vec<(i64, String, String)> = embeddings::table
                        .inner_join(records::table)
                        .filter(embeddings::model.eq(model))
                        .filter(embeddings::version.eq(version))
                        .select((embeddings::vec_key, records::owner, records::visibility))
                        .order(embeddings::vec_key)
                        .load(&mut *conn)
                        .await?;
                    Ok(rows.into_iter().map(key_of).collect())
                }

                async fn vector_page(
                    &self,
                    model: &str,
                    version: &str,
                    after: i64,
                    limit: i64,
                ) -> Result<Vec<VectorRow>, StoreError> {
                    let mut conn = self.read().await?;
                    let rows: Vec<(i64, Vec<u8>)> = embeddings::table
                        .filter(embeddings::model.eq(model))
                        .filter(embeddings::version.eq(version))
                        .filter(embeddings::vec_key.gt(after))
                        .select((embeddings::vec_key, embeddings::vector))
                        .order(embeddings::vec_key)
                        .limit(limit)
                        .load(&mut *conn)
                        .await?;
                    rows.into_iter().map(|(key, b)| Ok(VectorRow { key, vector: vector(key, &b)? })).collect()
                }

                async fn vectors_by_keys(&self, keys: &[i64]) -> Result<Vec<VectorRow>, StoreError> {
                    let mut conn = self.read().await?;
                    let mut out = Vec::with_capacity(keys.len());
                    for chunk in keys.chunks(IN_CHUNK) {
                        let rows: Vec<(i64, Vec<u8>)> = embeddings::table
                            .filter(embeddings::vec_key.eq_any(chunk))
                            .select((embeddings::vec_key, embeddings::vector))
                            .load(&mut *conn)
                            .await?;
                        for (key, b) in rows {
                            out.push(VectorRow { key, vector: vector(key, &b)? });
                        }
                    }
                    Ok(out)
                }

                async fn vector_of_record(
                    &self,
                    id: &RecordId,
                    model: &str,
                    version: &str,
                ) -> Result<Option<(VectorKey, Vec<f32>)>, StoreError> {
                    let mut conn = self.read().await?;
                    let row: Option<(i64, String, String, Vec<u8>)> = embeddings::table
                        .inner_join(records::table)
                        .filter(embeddings::record_id.eq(id.as_str()))
                        .filter(embeddings::model.eq(model))
                        .filter(embeddings::version.eq(version))
                        .select((embeddings::vec_key, records::owner, records::visibility, embeddings::vector))
                        .first(&mut *conn)
                        .await
                        .optional()?;
                    row.map(|(key, owner, vis, b)| Ok((key_of((key, owner, vis)), vector(key, &b)?))).transpose()
                }

                async fn records_by_vector_keys(&self, keys: &[i64]) -> Result<Vec<(i64, StoredRecord)>, StoreError> {
                    let mut conn = self.read().await?;
                    let mut out = Vec::with_capacity(keys.len());
                    for chunk in keys.chunks(IN_CHUNK) {
                        let rows: Vec<(i64, RecordRow, Option<String>, EmbeddingTag)> = embeddings::table
                            .inner_join(records::table.left_join(analyses::table))
                            .filter(embeddings::vec_key.eq_any(chunk))
                            .select((
                                embeddings::vec_key,
                                RecordRow::as_select(),
                                analyses::analysis.nullable(),
                                (embeddings::model.nullable(), embeddings::version.nullable()),
                            ))
                            .load(&mut *conn)
                            .await?;
                        for (key, row, analysis, tag) in rows {
                            out.push((key, row.into_stored(analysis, tag)?));
                        }
                    }
                    Ok(out)
                }
            }
        };
    };
}

pub(crate) use vector_source_impl;
