DROP TABLE attempts;
DROP TABLE analyses;
DROP TABLE records;
