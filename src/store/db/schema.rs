//! Diesel table definitions, matching `migrations/sqlite/` and `migrations/mysql/`.

diesel::table! {
    records (id) {
        id -> Text,
        owner -> Text,
        status -> Text,
        seq -> BigInt,
        filename -> Text,
        content_type -> Text,
        declared_size -> BigInt,
        size -> Nullable<BigInt>,
        object_key -> Text,
        content_hash -> Nullable<Text>,
        metadata -> Nullable<Text>,
        attempts -> Integer,
        error -> Nullable<Text>,
        upload_expires_at -> BigInt,
        queued_at -> Nullable<BigInt>,
        next_attempt_at -> Nullable<BigInt>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        visibility -> Text,
        attempt_base -> Integer,
        display_name -> Nullable<Text>,
    }
}

diesel::table! {
    analyses (record_id) {
        record_id -> Text,
        analysis -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    attempts (id) {
        id -> Integer,
        record_id -> Text,
        attempt -> Integer,
        worker -> Text,
        started_at -> BigInt,
        finished_at -> BigInt,
        outcome -> Text,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    embeddings (vec_key) {
        vec_key -> BigInt,
        record_id -> Text,
        model -> Text,
        version -> Text,
        dim -> Integer,
        vector -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    songs (song_id) {
        song_id -> BigInt,
        song_name -> Text,
        artist_name -> Text,
        album_name -> Text,
        spotify_track_id -> Text,
        duration_ms -> BigInt,
        popularity -> BigInt,
        mfcc -> Text,
        pitch_low -> Double,
        pitch_high -> Double,
        pitch_avg -> Double,
        spotify_popularity -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    song_dislikes (owner, song_id) {
        owner -> Text,
        song_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        topic -> Text,
        msg_key -> Text,
        payload -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    dead_letter_audit (id) {
        id -> BigInt,
        record_id -> Text,
        owner -> Text,
        filename -> Text,
        action -> Text,
        admin -> Text,
        at -> BigInt,
        error -> Nullable<Text>,
        attempts -> Integer,
        history -> Text,
    }
}

diesel::table! {
    alerts (id) {
        id -> BigInt,
        fingerprint -> Text,
        starts_at -> BigInt,
        name -> Text,
        severity -> Text,
        status -> Text,
        labels -> Text,
        annotations -> Text,
        ends_at -> Nullable<BigInt>,
        generator_url -> Text,
        received_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    alert_changes (id) {
        id -> BigInt,
        alert_id -> BigInt,
        status -> Text,
        at -> BigInt,
    }
}

diesel::joinable!(alert_changes -> alerts (alert_id));
diesel::joinable!(analyses -> records (record_id));
diesel::joinable!(song_dislikes -> songs (song_id));
diesel::joinable!(embeddings -> records (record_id));
diesel::joinable!(attempts -> records (record_id));
diesel::allow_tables_to_appear_in_same_query!(
    records,
    analyses,
    attempts,
    embeddings,
    songs,
    song_dislikes,
    outbox,
    dead_letter_audit,
    alerts,
    alert_changes
);
