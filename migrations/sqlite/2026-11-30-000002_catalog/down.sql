DROP TABLE song_dislikes;
DROP TABLE songs;
