-- A run store written by scd at schema version 1 (d6ebc7c); see make_sqlite_v1.py.
BEGIN TRANSACTION;
CREATE TABLE apps (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO "apps" VALUES('docs','{"repo": "https://github.com/acme/docs.git", "secret": "s3cr3t"}');
CREATE TABLE claims (
    key TEXT PRIMARY KEY,
    claimed REAL NOT NULL
) WITHOUT ROWID;
INSERT INTO "claims" VALUES('schedule:web:2026-11-01T00:00:00Z',1.79652949121339297298e+09);
CREATE TABLE controls (
    run_id TEXT PRIMARY KEY,
    action TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO "controls" VALUES('run-1','cancel');
INSERT INTO "controls" VALUES('run-6','pause');
CREATE TABLE leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
INSERT INTO "leases" VALUES('run:run-1','worker-a',1.79653309121332406994e+09);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,
    app TEXT NOT NULL,
    status TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
);
INSERT INTO "runs" VALUES('run-0','web:github:delivery-0','web','queued',1793521800250000,0,'{"id": "run-0", "app": "web", "dedup_key": "web:github:delivery-0", "status": "queued", "event": {"provider": "github", "event_name": "push", "action": null, "ref": "refs/heads/main", "branch": "dev", "tag": null, "commit": "0000000000000000000000000000000000000000", "before": null, "message": "commit 0", "pusher": "alice", "clone_url": "https://github.com/acme/web.git", "repository": "acme/web", "repo_owner": null, "pr_number": null, "source_branch": null, "target_branch": null, "merged": null, "draft": null, "added": ["src/0.py"], "modified": [], "removed": [], "delivery_id": "delivery-0", "inputs": {}, "payload": {"ref": "refs/heads/main", "n": 0, "head_commit": {"message": "fix \ud83d"}, "nested": {"list": [1, 2.5, null, true, "\u00fcn\u00efc\u00f8d\u00e9 \u2713"], "empty": {}}, "big": 2305843009213693952}}, "pipeline": "serverless-pipeline.yaml", "attempt": 1, "created_at": "2026-11-01T08:30:00.250000Z", "started_at": null, "finished_at": null, "message": null, "rerun_of": null, "version": 0}');
INSERT INTO "runs" VALUES('run-1','web:github:delivery-1','api','running',1793521800250000,1,'{"id":"run-1","app":"api","dedup_key":"web:github:delivery-1","status":"running","event":{"provider":"gitee","event_name":"tag","action":null,"ref":"refs/heads/main","branch":"main","tag":null,"commit":"0000000000000000000000000000000000000001","before":null,"message":"commit 1","pusher":"alice","clone_url":"https://github.com/acme/web.git","repository":"acme/web","repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":["src/1.py"],"modified":[],"removed":[],"delivery_id":"delivery-1","inputs":{},"payload":{"ref":"refs/heads/main","n":1,"head_commit":{"message":"fix 😀"},"nested":{"list":[1,2.5,null,true,"ünïcødé ✓"],"empty":{}},"big":2305843009213693952}},"pipeline":"serverless-pipeline.yaml","attempt":2,"created_at":"2026-11-01T08:30:00.250000Z","started_at":"2026-11-01T08:30:01.250000Z","finished_at":null,"message":null,"rerun_of":null,"version":1}');
INSERT INTO "runs" VALUES('run-2','web:github:delivery-2','web','success',1793521801250000,1,'{"id":"run-2","app":"web","dedup_key":"web:github:delivery-2","status":"success","event":{"provider":"gitlab","event_name":"pull_request","action":null,"ref":"refs/heads/main","branch":"dev","tag":null,"commit":"0000000000000000000000000000000000000002","before":null,"message":"commit 2","pusher":"alice","clone_url":"https://github.com/acme/web.git","repository":"acme/web","repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":["src/2.py"],"modified":[],"removed":[],"delivery_id":"delivery-2","inputs":{},"payload":{"ref":"refs/heads/main","n":2,"head_commit":{"message":"fix 😀"},"nested":{"list":[1,2.5,null,true,"ünïcødé ✓"],"empty":{}},"big":2305843009213693952}},"pipeline":"serverless-pipeline.yaml","attempt":1,"created_at":"2026-11-01T08:30:01.250000Z","started_at":"2026-11-01T08:30:02.250000Z","finished_at":"2026-11-06T08:30:02.250000Z","message":null,"rerun_of":null,"version":1}');
INSERT INTO "runs" VALUES('run-3','web:github:delivery-3','api','failure',1793521801250000,1,'{"id": "run-3", "app": "api", "dedup_key": "web:github:delivery-3", "status": "failure", "event": {"provider": "codeup", "event_name": "manual", "action": null, "ref": "refs/heads/main", "branch": "main", "tag": null, "commit": "0000000000000000000000000000000000000003", "before": null, "message": "bad \udcff text", "pusher": "alice", "clone_url": "https://github.com/acme/web.git", "repository": "acme/web", "repo_owner": null, "pr_number": null, "source_branch": null, "target_branch": null, "merged": null, "draft": null, "added": ["src/3.py"], "modified": [], "removed": [], "delivery_id": "delivery-3", "inputs": {"level": "debug"}, "payload": {"ref": "refs/heads/main", "n": 3, "head_commit": {"message": "fix \ud83d"}, "nested": {"list": [1, 2.5, null, true, "\u00fcn\u00efc\u00f8d\u00e9 \u2713"], "empty": {}}, "big": 2305843009213693952}}, "pipeline": "serverless-pipeline.yaml", "attempt": 2, "created_at": "2026-11-01T08:30:01.250000Z", "started_at": "2026-11-01T08:30:02.250000Z", "finished_at": "2026-11-06T08:30:02.250000Z", "message": "exit 1 \ud800", "rerun_of": null, "version": 1}');
INSERT INTO "runs" VALUES('run-4','web:github:delivery-4','web','cancelled',1793521802250000,1,'{"id":"run-4","app":"web","dedup_key":"web:github:delivery-4","status":"cancelled","event":{"provider":"github","event_name":"push","action":null,"ref":"refs/heads/main","branch":"dev","tag":null,"commit":"0000000000000000000000000000000000000004","before":null,"message":"commit 4","pusher":"alice","clone_url":"https://github.com/acme/web.git","repository":"acme/web","repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":["src/4.py"],"modified":[],"removed":[],"delivery_id":"delivery-4","inputs":{},"payload":{"ref":"refs/heads/main","n":4,"head_commit":{"message":"fix 😀"},"nested":{"list":[1,2.5,null,true,"ünïcødé ✓"],"empty":{}},"big":2305843009213693952}},"pipeline":"serverless-pipeline.yaml","attempt":1,"created_at":"2026-11-01T08:30:02.250000Z","started_at":"2026-11-01T08:30:03.250000Z","finished_at":"2026-11-06T08:30:03.250000Z","message":null,"rerun_of":null,"version":1}');
INSERT INTO "runs" VALUES('run-5','web:github:delivery-5','api','error',1793521802250000,1,'{"id":"run-5","app":"api","dedup_key":"web:github:delivery-5","status":"error","event":{"provider":"gitee","event_name":"tag","action":null,"ref":"refs/heads/main","branch":"main","tag":null,"commit":"0000000000000000000000000000000000000005","before":null,"message":"commit 5","pusher":"alice","clone_url":"https://github.com/acme/web.git","repository":"acme/web","repo_owner":null,"pr_number":null,"source_branch":null,"target_branch":null,"merged":null,"draft":null,"added":["src/5.py"],"modified":[],"removed":[],"delivery_id":"delivery-5","inputs":{},"payload":{"ref":"refs/heads/main","n":5,"head_commit":{"message":"fix 😀"},"nested":{"list":[1,2.5,null,true,"ünïcødé ✓"],"empty":{}},"big":2305843009213693952}},"pipeline":"serverless-pipeline.yaml","attempt":2,"created_at":"2026-11-01T08:30:02.250000Z","started_at":"2026-11-01T08:30:03.250000Z","finished_at":"2026-11-06T08:30:03.250000Z","message":null,"rerun_of":"run-0","version":1}');
INSERT INTO "runs" VALUES('run-6','web:github:delivery-6','web','paused',1793521803250000,1,'{"id": "run-6", "app": "web", "dedup_key": "web:github:delivery-6", "status": "paused", "event": {"provider": "gitlab", "event_name": "pull_request", "action": null, "ref": "refs/heads/main", "branch": "dev", "tag": null, "commit": "0000000000000000000000000000000000000006", "before": null, "message": "commit 6", "pusher": "alice", "clone_url": "https://github.com/acme/web.git", "repository": "acme/web", "repo_owner": null, "pr_number": null, "source_branch": null, "target_branch": null, "merged": null, "draft": null, "added": ["src/6.py"], "modified": [], "removed": [], "delivery_id": "delivery-6", "inputs": {}, "payload": {"ref": "refs/heads/main", "n": 6, "head_commit": {"message": "fix \ud83d"}, "nested": {"list": [1, 2.5, null, true, "\u00fcn\u00efc\u00f8d\u00e9 \u2713"], "empty": {}}, "big": 2305843009213693952}}, "pipeline": "serverless-pipeline.yaml", "attempt": 1, "created_at": "2026-11-01T08:30:03.250000Z", "started_at": "2026-11-01T08:30:04.250000Z", "finished_at": null, "message": null, "rerun_of": null, "version": 1}');
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO "schema_version" VALUES(1);
CREATE TABLE steps (
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;
INSERT INTO "steps" VALUES('run-1','0',0,'{"id":"0","name":"step 0","index":0,"status":"success","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:01.250000Z","finished_at":"2026-11-01T08:30:02.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-1','2',2,'{"id":"2","name":"step 2","index":2,"status":"running","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:03.250000Z","finished_at":"2026-11-01T08:30:04.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-1','setup',-1,'{"id":"setup","name":"Set up","index":-1,"status":"success","outcome":null,"conclusion":null,"started_at":"2026-11-01T08:30:01.250000Z","finished_at":null,"outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-1','test',1,'{"id": "test", "name": "step 1", "index": 1, "status": "success", "outcome": "success", "conclusion": "success", "started_at": "2026-11-01T08:30:02.250000Z", "finished_at": "2026-11-01T08:30:03.250000Z", "outputs": {"k": "v1", "odd": "\udfff"}, "message": null}');
INSERT INTO "steps" VALUES('run-2','0',0,'{"id":"0","name":"step 0","index":0,"status":"success","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:02.250000Z","finished_at":"2026-11-01T08:30:03.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-2','2',2,'{"id":"2","name":"step 2","index":2,"status":"success","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:04.250000Z","finished_at":"2026-11-01T08:30:05.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-2','setup',-1,'{"id":"setup","name":"Set up","index":-1,"status":"success","outcome":null,"conclusion":null,"started_at":"2026-11-01T08:30:02.250000Z","finished_at":null,"outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-2','test',1,'{"id": "test", "name": "step 1", "index": 1, "status": "success", "outcome": "success", "conclusion": "success", "started_at": "2026-11-01T08:30:03.250000Z", "finished_at": "2026-11-01T08:30:04.250000Z", "outputs": {"k": "v1", "odd": "\udfff"}, "message": null}');
INSERT INTO "steps" VALUES('run-3','0',0,'{"id":"0","name":"step 0","index":0,"status":"success","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:02.250000Z","finished_at":"2026-11-01T08:30:03.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-3','2',2,'{"id":"2","name":"step 2","index":2,"status":"failure","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:04.250000Z","finished_at":"2026-11-01T08:30:05.250000Z","outputs":{},"message":"exit 1"}');
INSERT INTO "steps" VALUES('run-3','setup',-1,'{"id":"setup","name":"Set up","index":-1,"status":"success","outcome":null,"conclusion":null,"started_at":"2026-11-01T08:30:02.250000Z","finished_at":null,"outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-3','test',1,'{"id": "test", "name": "step 1", "index": 1, "status": "success", "outcome": "success", "conclusion": "success", "started_at": "2026-11-01T08:30:03.250000Z", "finished_at": "2026-11-01T08:30:04.250000Z", "outputs": {"k": "v1", "odd": "\udfff"}, "message": null}');
INSERT INTO "steps" VALUES('run-4','0',0,'{"id":"0","name":"step 0","index":0,"status":"success","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:03.250000Z","finished_at":"2026-11-01T08:30:04.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-4','2',2,'{"id":"2","name":"step 2","index":2,"status":"cancelled","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:05.250000Z","finished_at":"2026-11-01T08:30:06.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-4','setup',-1,'{"id":"setup","name":"Set up","index":-1,"status":"success","outcome":null,"conclusion":null,"started_at":"2026-11-01T08:30:03.250000Z","finished_at":null,"outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-4','test',1,'{"id": "test", "name": "step 1", "index": 1, "status": "success", "outcome": "success", "conclusion": "success", "started_at": "2026-11-01T08:30:04.250000Z", "finished_at": "2026-11-01T08:30:05.250000Z", "outputs": {"k": "v1", "odd": "\udfff"}, "message": null}');
INSERT INTO "steps" VALUES('run-5','0',0,'{"id":"0","name":"step 0","index":0,"status":"success","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:03.250000Z","finished_at":"2026-11-01T08:30:04.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-5','2',2,'{"id":"2","name":"step 2","index":2,"status":"error","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:05.250000Z","finished_at":"2026-11-01T08:30:06.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-5','setup',-1,'{"id":"setup","name":"Set up","index":-1,"status":"success","outcome":null,"conclusion":null,"started_at":"2026-11-01T08:30:03.250000Z","finished_at":null,"outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-5','test',1,'{"id": "test", "name": "step 1", "index": 1, "status": "success", "outcome": "success", "conclusion": "success", "started_at": "2026-11-01T08:30:04.250000Z", "finished_at": "2026-11-01T08:30:05.250000Z", "outputs": {"k": "v1", "odd": "\udfff"}, "message": null}');
INSERT INTO "steps" VALUES('run-6','0',0,'{"id":"0","name":"step 0","index":0,"status":"success","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:04.250000Z","finished_at":"2026-11-01T08:30:05.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-6','2',2,'{"id":"2","name":"step 2","index":2,"status":"paused","outcome":"success","conclusion":"success","started_at":"2026-11-01T08:30:06.250000Z","finished_at":"2026-11-01T08:30:07.250000Z","outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-6','setup',-1,'{"id":"setup","name":"Set up","index":-1,"status":"success","outcome":null,"conclusion":null,"started_at":"2026-11-01T08:30:04.250000Z","finished_at":null,"outputs":{},"message":null}');
INSERT INTO "steps" VALUES('run-6','test',1,'{"id": "test", "name": "step 1", "index": 1, "status": "success", "outcome": "success", "conclusion": "success", "started_at": "2026-11-01T08:30:05.250000Z", "finished_at": "2026-11-01T08:30:06.250000Z", "outputs": {"k": "v1", "odd": "\udfff"}, "message": null}');
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO "tokens" VALUES('ci','abababababababababababababababababababababababababababababababab','{"name":"ci","sha256":"abababababababababababababababababababababababababababababababab","scopes":["read","trigger"],"created_at":"2026-11-01T08:30:00.250000Z","revoked":false}');
INSERT INTO "tokens" VALUES('old','cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd','{"name":"old","sha256":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","scopes":["admin"],"created_at":"2026-11-01T08:30:00.250000Z","revoked":true}');
CREATE INDEX runs_by_app ON runs (app, created_us, id);
CREATE INDEX runs_by_time ON runs (created_us, id);
CREATE INDEX runs_by_status ON runs (status, created_us, id);
COMMIT;
