-- The song catalog recommendations rank (orakgaraki catalog import; the shipped one at first start).
CREATE TABLE songs (
    song_id            BIGINT  PRIMARY KEY NOT NULL,
    song_name          TEXT    NOT NULL,
    artist_name        TEXT    NOT NULL,
    album_name         TEXT    NOT NULL,
    spotify_track_id   TEXT    NOT NULL,
    duration_ms        BIGINT  NOT NULL,
    popularity         BIGINT  NOT NULL,
    -- The 13 MFCC means as a JSON array.
    mfcc               TEXT    NOT NULL,
    pitch_low          DOUBLE  NOT NULL,
    pitch_high         DOUBLE  NOT NULL,
    pitch_avg          DOUBLE  NOT NULL,
    spotify_popularity BIGINT,
    updated_at         BIGINT  NOT NULL
);

-- Songs a user said no to: never recommended to them again.
CREATE TABLE song_dislikes (
    owner      TEXT   NOT NULL,
    song_id    BIGINT NOT NULL REFERENCES songs (song_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner, song_id)
);
