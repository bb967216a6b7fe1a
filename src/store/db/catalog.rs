//! The song catalog and users' dislikes, written once for every diesel backend
//! (`catalog_store_impl!(Store)`, as `record_store_impl!` in records.rs).

use super::schema::songs;
use crate::domain::catalog::{N_MFCC, Song};
use crate::store::StoreError;
use diesel::{AsChangeset, Insertable, Queryable};

#[derive(Insertable, Queryable, AsChangeset)]
#[diesel(table_name = songs)]
pub(crate) struct SongRow {
    pub song_id: i64,
    pub song_name: String,
    pub artist_name: String,
    pub album_name: String,
    pub spotify_track_id: String,
    pub duration_ms: i64,
    pub popularity: i64,
    pub mfcc: String,
    pub pitch_low: f64,
    pub pitch_high: f64,
    pub pitch_avg: f64,
    pub spotify_popularity: Option<i64>,
    pub updated_at: i64,
}

impl SongRow {
    pub(crate) fn from_song(s: &Song, now: i64) -> Self {
        SongRow {
            song_id: s.song_id,
            song_name: s.song_name.clone(),
            artist_name: s.artist_name.clone(),
            album_name: s.album_name.clone(),
            spotify_track_id: s.spotify_track_id.clone(),
            duration_ms: s.duration_ms,
            popularity: s.popularity,
            mfcc: serde_json::Value::from(s.mfcc.to_vec()).to_string(),
            pitch_low: s.pitch_low,
            pitch_high: s.pitch_high,
            pitch_avg: s.pitch_avg,
            spotify_popularity: s.spotify_popularity,
            updated_at: now,
        }
    }

    pub(crate) fn into_song(self) -> Result<Song, StoreError> {
        let v: Vec<f64> = serde_json::from_str(&self.mfcc)
            .map_err(|e| StoreError::Corrupt(format!("mfcc of song {}: {e}", self.song_id)))?;
        let mfcc: [f64; N_MFCC] = v
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("song {} does not have {N_MFCC} MFCCs", self.song_id)))?;
        Ok(Song {
            song_id: self.song_id,
            song_name: self.song_name,
            artist_name: self.artist_name,
            album_name: self.album_name,
            spotify_track_id: self.spotify_track_id,
            duration_ms: self.duration_ms,
            popularity: self.popularity,
            mfcc,
            pitch_low: self.pitch_low,
            pitch_high: self.pitch_high,
            pitch_avg: self.pitch_avg,
            spotify_popularity: self.spotify_popularity,
        })
    }
}

macro_rules! catalog_store_impl {
    ($store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
            use diesel_async::{AsyncConnection, RunQueryDsl};
            use std::collections::HashSet;
            use $crate::domain::catalog::Song;
            use $crate::store::db::catalog::SongRow;
            use $crate::store::db::schema::{song_dislikes, songs};
            use $crate::store::{CatalogStore, ImportOutcome, StoreError};

            #[async_trait]
            impl CatalogStore for $store {
                async fn upsert_songs(&self, list: &[Song], now: i64) -> Result<ImportOutcome, StoreError> {
                    let rows: Vec<SongRow> = list.iter().map(|s| SongRow::from_song(s, now)).collect();
                    let mut conn = self.write().await?;
                    conn.transaction::<_, StoreError, _>(async move |conn| {
                        // Row by row, in one transaction: portable across backends (SQLite's
                        // ON CONFLICT and MySQL's ON DUPLICATE KEY differ) and fast enough for
                        // catalogs of thousands of songs.
                        let mut inserted = 0u64;
                        for row in &rows {
                            let known = songs::table
                                .find(row.song_id)
                                .select(songs::song_id)
                                .first::<i64>(conn)
                                .await
                                .optional()?;
                            if known.is_some() {
                                diesel::update(songs::table.find(row.song_id)).set(row).execute(conn).await?;
                            } else {
                                diesel::insert_into(songs::table).values(row).execute(conn).await?;
                                inserted += 1;
                            }
                        }
                        let total: i64 = songs::table.count().get_result(conn).await?;
                        Ok(ImportOutcome {
                            inserted,
                            updated: rows.len() as u64 - inserted,
                            total: u64::try_from(total).unwrap_or(0),
                        })
                    })
                    .await
                }

                async fn songs(&self, min_popularity: i64) -> Result<Vec<Song>, StoreError> {
                    let mut conn = self.read().await?;
                    let rows: Vec<SongRow> = songs::table
                        .filter(songs::popularity.ge(min_popularity))
                        .order(songs::song_id.asc())
                        .load(&mut *conn)
                        .await?;
                    rows.into_iter().map(SongRow::into_song).collect()
                }

                async fn count_songs(&self) -> Result<i64, StoreError> {
                    let mut conn = self.read().await?;
                    Ok(songs::table.count().get_result(&mut *conn).await?)
                }

                async fn add_dislike(&self, owner: &str, song_id: i64, now: i64) -> Result<bool, StoreError> {
                    let mut conn = self.write().await?;
                    let exists =
                        songs::table.find(song_id).select(songs::song_id).first::<i64>(&mut *conn).await.optional()?;
                    if exists.is_none() {
                        return Ok(false);
                    }
                    diesel::insert_or_ignore_into(song_dislikes::table)
                        .values((
                            song_dislikes::owner.eq(owner),
                            song_dislikes::song_id.eq(song_id),
                            song_dislikes::created_at.eq(now),
                        ))
                        .execute(&mut *conn)
                        .await?;
                    Ok(true)
                }

                async fn dislikes(&self, owner: &str) -> Result<HashSet<i64>, StoreError> {
                    let mut conn = self.read().await?;
                    let ids: Vec<i64> = song_dislikes::table
                        .filter(song_dislikes::owner.eq(owner))
                        .select(song_dislikes::song_id)
                        .load(&mut *conn)
                        .await?;
                    Ok(ids.into_iter().collect())
                }
            }
        };
    };
}

pub(crate) use catalog_store_impl;
