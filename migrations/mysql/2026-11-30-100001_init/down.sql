DROP TABLE song_dislikes;
DROP TABLE songs;
DROP TABLE embeddings;
DROP TABLE attempts;
DROP TABLE analyses;
DROP TABLE records;
