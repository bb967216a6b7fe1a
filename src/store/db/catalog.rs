//! The song catalog and users' dislikes in SQLite.

use super::SqliteStore;
use super::schema::{song_dislikes, songs};
use crate::domain::catalog::{N_MFCC, Song};
use crate::store::{CatalogStore, ImportOutcome, StoreError};
use async_trait::async_trait;
use diesel::upsert::excluded;
use diesel::{ExpressionMethods, Insertable, OptionalExtension, QueryDsl, Queryable};
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::collections::HashSet;

#[derive(Insertable, Queryable)]
#[diesel(table_name = songs)]
struct SongRow {
    song_id: i64,
    song_name: String,
    artist_name: String,
    album_name: String,
    spotify_track_id: String,
    duration_ms: i64,
    popularity: i64,
    mfcc: String,
    pitch_low: f64,
    pitch_high: f64,
    pitch_avg: f64,
    spotify_popularity: Option<i64>,
    updated_at: i64,
}

impl SongRow {
    fn from_song(s: &Song, now: i64) -> Self {
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

    fn into_song(self) -> Result<Song, StoreError> {
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

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn upsert_songs(&self, list: &[Song], now: i64) -> Result<ImportOutcome, StoreError> {
        let rows: Vec<SongRow> = list.iter().map(|s| SongRow::from_song(s, now)).collect();
        let mut conn = self.write().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let before: i64 = songs::table.count().get_result(conn).await?;
            // Row by row: diesel has no batch upsert for SQLite; one transaction keeps it fast.
            for row in &rows {
                diesel::insert_into(songs::table)
                    .values(row)
                    .on_conflict(songs::song_id)
                    .do_update()
                    .set((
                        songs::song_name.eq(excluded(songs::song_name)),
                        songs::artist_name.eq(excluded(songs::artist_name)),
                        songs::album_name.eq(excluded(songs::album_name)),
                        songs::spotify_track_id.eq(excluded(songs::spotify_track_id)),
                        songs::duration_ms.eq(excluded(songs::duration_ms)),
                        songs::popularity.eq(excluded(songs::popularity)),
                        songs::mfcc.eq(excluded(songs::mfcc)),
                        songs::pitch_low.eq(excluded(songs::pitch_low)),
                        songs::pitch_high.eq(excluded(songs::pitch_high)),
                        songs::pitch_avg.eq(excluded(songs::pitch_avg)),
                        songs::spotify_popularity.eq(excluded(songs::spotify_popularity)),
                        songs::updated_at.eq(excluded(songs::updated_at)),
                    ))
                    .execute(conn)
                    .await?;
            }
            let after: i64 = songs::table.count().get_result(conn).await?;
            let inserted = u64::try_from(after - before).unwrap_or(0);
            Ok(ImportOutcome {
                inserted,
                updated: rows.len() as u64 - inserted,
                total: u64::try_from(after).unwrap_or(0),
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
        let exists = songs::table.find(song_id).select(songs::song_id).first::<i64>(&mut *conn).await.optional()?;
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
