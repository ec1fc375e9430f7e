-- A run store written by scd at schema version 2 (d262d1d); see make_sqlite_v2.py.
BEGIN TRANSACTION;
CREATE TABLE apps (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE claims (
    key TEXT PRIMARY KEY,
    claimed REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE controls (
    run_id TEXT PRIMARY KEY,
    action TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,
    app TEXT NOT NULL,
    status TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
);
INSERT INTO "runs" VALUES('run-c','web:github:run-c','web','queued',1795165230000000,0,'{"id":"run-c","app":"web","dedup_key":"web:github:run-c","status":"queued","event":{"provider":"github","event_name":"push","action":null,"ref":null,"branch":"main","tag":null,"commit":"cccccccccccccccccccccccccccccccccccccccc","before":null,"message":null,"pusher":null,"pusher_name":null,"pusher_email":null,"pusher_avatar":null,"clone_url":null,"repository":null,"repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":[],"modified":[],"removed":[],"delivery_id":null,"inputs":{},"payload":{}},"pipeline":"serverless-pipeline.yaml","attempt":1,"created_at":"2026-11-20T09:00:30Z","started_at":null,"finished_at":null,"message":null,"rerun_of":null,"tasks":[],"version":0}');
INSERT INTO "runs" VALUES('run-a','web:github:run-a','web','queued',1795165210000000,0,'{"id":"run-a","app":"web","dedup_key":"web:github:run-a","status":"queued","event":{"provider":"github","event_name":"push","action":null,"ref":null,"branch":"main","tag":null,"commit":"cccccccccccccccccccccccccccccccccccccccc","before":null,"message":null,"pusher":null,"pusher_name":null,"pusher_email":null,"pusher_avatar":null,"clone_url":null,"repository":null,"repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":[],"modified":[],"removed":[],"delivery_id":null,"inputs":{},"payload":{}},"pipeline":"serverless-pipeline.yaml","attempt":1,"created_at":"2026-11-20T09:00:10Z","started_at":null,"finished_at":null,"message":null,"rerun_of":null,"tasks":[],"version":0}');
INSERT INTO "runs" VALUES('run-e','api:github:run-e','api','queued',1795165220000000,0,'{"id":"run-e","app":"api","dedup_key":"api:github:run-e","status":"queued","event":{"provider":"github","event_name":"push","action":null,"ref":null,"branch":"main","tag":null,"commit":"cccccccccccccccccccccccccccccccccccccccc","before":null,"message":null,"pusher":null,"pusher_name":null,"pusher_email":null,"pusher_avatar":null,"clone_url":null,"repository":null,"repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":[],"modified":[],"removed":[],"delivery_id":null,"inputs":{},"payload":{}},"pipeline":"serverless-pipeline.yaml","attempt":1,"created_at":"2026-11-20T09:00:20Z","started_at":null,"finished_at":null,"message":null,"rerun_of":null,"tasks":[],"version":0}');
INSERT INTO "runs" VALUES('run-b','web:github:run-b','web','queued',1795165220000000,0,'{"id":"run-b","app":"web","dedup_key":"web:github:run-b","status":"queued","event":{"provider":"github","event_name":"push","action":null,"ref":null,"branch":"main","tag":null,"commit":"cccccccccccccccccccccccccccccccccccccccc","before":null,"message":null,"pusher":null,"pusher_name":null,"pusher_email":null,"pusher_avatar":null,"clone_url":null,"repository":null,"repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":[],"modified":[],"removed":[],"delivery_id":null,"inputs":{},"payload":{}},"pipeline":"serverless-pipeline.yaml","attempt":1,"created_at":"2026-11-20T09:00:20Z","started_at":null,"finished_at":null,"message":null,"rerun_of":null,"tasks":[],"version":0}');
INSERT INTO "runs" VALUES('run-d','api:github:run-d','api','queued',1795165205000000,0,'{"id":"run-d","app":"api","dedup_key":"api:github:run-d","status":"queued","event":{"provider":"github","event_name":"push","action":null,"ref":null,"branch":"main","tag":null,"commit":"cccccccccccccccccccccccccccccccccccccccc","before":null,"message":null,"pusher":null,"pusher_name":null,"pusher_email":null,"pusher_avatar":null,"clone_url":null,"repository":null,"repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":[],"modified":[],"removed":[],"delivery_id":null,"inputs":{},"payload":{}},"pipeline":"serverless-pipeline.yaml","attempt":1,"created_at":"2026-11-20T09:00:05Z","started_at":null,"finished_at":null,"message":null,"rerun_of":null,"tasks":[],"version":0}');
INSERT INTO "runs" VALUES('run-f','web:github:run-f','web','queued',1795165220000000,0,'{"id":"run-f","app":"web","dedup_key":"web:github:run-f","status":"queued","event":{"provider":"github","event_name":"push","action":null,"ref":null,"branch":"main","tag":null,"commit":"cccccccccccccccccccccccccccccccccccccccc","before":null,"message":null,"pusher":null,"pusher_name":null,"pusher_email":null,"pusher_avatar":null,"clone_url":null,"repository":null,"repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":[],"modified":[],"removed":[],"delivery_id":null,"inputs":{},"payload":{}},"pipeline":"serverless-pipeline.yaml","attempt":1,"created_at":"2026-11-20T09:00:20Z","started_at":null,"finished_at":null,"message":null,"rerun_of":null,"tasks":[],"version":0}');
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO "schema_version" VALUES(2);
CREATE TABLE steps (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    step_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, task, step_id)
) WITHOUT ROWID;
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX runs_by_app ON runs (app, created_us, id);
CREATE INDEX runs_by_time ON runs (created_us, id);
CREATE INDEX runs_by_status ON runs (status, created_us, id);
COMMIT;
