# Writes src/http/openapi.json, the OpenAPI 3 description of the HTTP API that
# the service serves at /api/openapi.json. Edit here, run `python3 scripts/openapi.py`,
# and tests/openapi.rs plus the schemathesis run in scripts/test.sh hold it to the code.
import json
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
def err(desc): return {"description": desc, "content": {"application/json": {"schema": ref("Error")}}}
def js(schema, desc="OK"): return {"description": desc, "content": {"application/json": {"schema": schema}}}
E = {
 "400": err("Bad input"), "401": err("No valid bearer token"), "403": err("Not allowed"),
 "404": err("Not found (or not yours)"), "409": err("Not in a state that allows it"),
 "411": err("Content-Length required"), "413": err("Too large"), "415": err("Not a supported audio format"),
 "429": {"description": "Rate limited; see Retry-After", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/json": {"schema": ref("Error")}}},
 "503": err("A dependency is unavailable; try again"),
}
def errs(*codes): return {c: E[c] for c in codes}
bearer = [{"bearer": []}]
rid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "Record id (UUID)"}
nstr = {"type": "string", "nullable": True}
nnum = {"type": "number", "nullable": True}
schemas = {
 "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
 "Status": {"type": "string", "enum": ["PENDING", "UPLOADED", "QUEUED", "PROCESSING", "COMPLETED", "RETRYING", "FAILED"]},
 "Visibility": {"type": "string", "enum": ["private", "public"]},
 "StatusEvent": {"type": "object", "required": ["record_id", "status", "attempt"], "properties": {
   "record_id": {"type": "string"}, "status": ref("Status"), "attempt": {"type": "integer"}, "error": nstr}},
 "Record": {"type": "object", "required": ["id", "status", "filename", "content_type", "visibility", "size", "created_at", "updated_at", "attempts"],
   "properties": {"id": {"type": "string"}, "status": ref("Status"), "filename": {"type": "string"}, "content_type": {"type": "string"},
     "visibility": ref("Visibility"), "display_name": nstr, "size": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
     "updated_at": {"type": "string", "format": "date-time"}, "attempts": {"type": "integer"}, "error": nstr,
     "metadata": {"type": "object", "nullable": True, "additionalProperties": True},
     "analysis": {"type": "object", "nullable": True, "additionalProperties": True, "description": "The measurements once COMPLETED (range, timbre, loudness, tempo, …)"}}},
 "RecordList": {"type": "object", "required": ["items", "next_cursor"], "properties": {"items": {"type": "array", "items": ref("Record")}, "next_cursor": nstr}},
 "Presigned": {"type": "object", "required": ["record_id", "upload_url", "method", "headers", "expires_at"], "properties": {
   "record_id": {"type": "string"}, "upload_url": {"type": "string"}, "method": {"type": "string", "enum": ["PUT"]},
   "headers": {"type": "object", "additionalProperties": {"type": "string"}}, "expires_at": {"type": "string", "format": "date-time"}}},
 "Accepted": {"type": "object", "required": ["record_id", "status"], "properties": {"record_id": {"type": "string"}, "status": ref("Status")}},
 "Stored": {"type": "object", "required": ["record_id", "status", "size", "sha256"], "properties": {"record_id": {"type": "string"}, "status": ref("Status"), "size": {"type": "integer"}, "sha256": {"type": "string"}}},
 "Neighbour": {"type": "object", "required": ["record_id", "score", "mine", "display_name", "visibility"], "properties": {
   "record_id": {"type": "string"}, "score": {"type": "number"}, "mine": {"type": "boolean"}, "display_name": nstr,
   "owner": {"type": "string", "description": "Admins' answers only"}, "visibility": ref("Visibility"),
   "analysis_summary": {"type": "object", "nullable": True, "additionalProperties": True}}},
 "Neighbours": {"type": "object", "required": ["items"], "properties": {"record_id": {"type": "string"}, "items": {"type": "array", "items": ref("Neighbour")}}},
 "SearchRequest": {"type": "object", "additionalProperties": False, "properties": {
   "record_id": {"type": "string"}, "vector": {"type": "array", "items": {"type": "number"}, "minItems": 256, "maxItems": 256},
   "k": {"type": "integer", "minimum": 1, "maximum": 100},
   "filters": {"type": "object", "additionalProperties": False, "properties": {"scope": {"type": "string", "enum": ["visible", "mine", "public"]}, "owner": {"type": "string"}, "min_score": {"type": "number"}}}}},
 "SongsRequest": {"type": "object", "required": ["record_id"], "additionalProperties": False, "properties": {
   "record_id": {"type": "string"}, "top_n": {"type": "integer", "minimum": 1, "maximum": 100}, "min_popularity": {"type": "integer"}, "strict_range": {"type": "boolean"}}},
 "Songs": {"type": "object", "required": ["record_id", "items"], "properties": {"record_id": {"type": "string"}, "items": {"type": "array", "items": {
   "type": "object", "required": ["song_id", "song_name", "artist_name", "score", "reasons"], "properties": {
     "song_id": {"type": "integer"}, "song_name": {"type": "string"}, "artist_name": {"type": "string"}, "score": {"type": "number"},
     "reasons": {"type": "object", "properties": {"range_fit": nnum, "semitones_below": nnum, "semitones_above": nnum, "timbre_similarity": {"type": "number"}}}}}}}},
 "BucketOutcome": {"type": "object", "required": ["format", "applied", "duplicates", "unknown", "missing", "ignored"], "properties": {
   "format": {"type": "string"}, "applied": {"type": "integer"}, "duplicates": {"type": "integer"}, "unknown": {"type": "integer"}, "missing": {"type": "integer"}, "ignored": {"type": "integer"}}},
 "Attempt": {"type": "object", "required": ["attempt", "worker", "started_at", "finished_at", "duration_ms", "outcome"], "properties": {
   "attempt": {"type": "integer"}, "worker": {"type": "string"}, "started_at": {"type": "string"}, "finished_at": {"type": "string"},
   "duration_ms": {"type": "integer"}, "outcome": {"type": "string"}, "error": nstr}},
 "DeadLetter": {"type": "object", "required": ["record_id", "owner", "filename", "failed_at", "attempts"], "properties": {
   "record_id": {"type": "string"}, "owner": {"type": "string"}, "filename": {"type": "string"}, "size": {"type": "integer", "nullable": True},
   "content_hash": nstr, "failed_at": {"type": "string"}, "attempts": {"type": "integer"}, "error": nstr,
   "history": {"type": "array", "items": ref("Attempt")}, "audit": {"type": "array", "items": ref("AuditEntry")}}},
 "DeadLetters": {"type": "object", "required": ["items", "next_cursor"], "properties": {"items": {"type": "array", "items": ref("DeadLetter")}, "next_cursor": nstr}},
 "Alert": {"type": "object", "required": ["id", "fingerprint", "name", "severity", "status", "labels", "annotations", "starts_at", "received_at", "updated_at", "changes"], "properties": {
   "id": {"type": "integer"}, "fingerprint": {"type": "string"}, "name": {"type": "string"}, "severity": {"type": "string"},
   "status": {"type": "string", "enum": ["firing", "resolved"]}, "labels": {"type": "object", "additionalProperties": {"type": "string"}},
   "annotations": {"type": "object", "additionalProperties": {"type": "string"}}, "starts_at": {"type": "string"}, "ends_at": nstr,
   "generator_url": {"type": "string"}, "received_at": {"type": "string"}, "updated_at": {"type": "string"},
   "changes": {"type": "array", "items": {"type": "object", "required": ["status", "at"], "properties": {"status": {"type": "string", "enum": ["firing", "resolved"]}, "at": {"type": "string"}}}}}},
 "UserToken": {"type": "object", "required": ["token", "user", "role", "expires_at"], "properties": {"token": {"type": "string"}, "user": {"type": "string"},
   "role": {"type": "string", "enum": ["user"]}, "expires_at": {"type": "string", "format": "date-time"}}},
 "AuditEntry": {"type": "object", "required": ["id", "record_id", "owner", "filename", "action", "admin", "at", "attempts", "history"], "properties": {
   "id": {"type": "integer"}, "record_id": {"type": "string"}, "owner": {"type": "string"}, "filename": {"type": "string"},
   "action": {"type": "string", "enum": ["requeue", "discard"]}, "admin": {"type": "string"}, "at": {"type": "string"},
   "error": nstr, "attempts": {"type": "integer"}, "history": {"type": "array", "items": ref("Attempt")}}},
}
def op(summary, responses, *, security=bearer, params=None, body=None, tags=None):
    if body and "application/json" in body["content"]:
        responses = {**responses, **errs(*JSON_BODY_ERRORS)}
    o = {"summary": summary, "responses": responses, "security": security}
    if params: o["parameters"] = params
    if body: o["requestBody"] = body
    if tags: o["tags"] = tags
    return o
def jbody(schema): return {"required": True, "content": {"application/json": {"schema": schema}}}
JSON_BODY_ERRORS = ("411",)
q = lambda n, s, d="": {"name": n, "in": "query", "required": False, "schema": s, "description": d}
paths = {
 "/api/records/presigned-url": {"post": op("Open an upload: a signed PUT URL for the recording (audio/* content types only; none given, the filename's extension decides)", {"201": js(ref("Presigned"), "Created"), **errs("400", "401", "413", "415", "429", "503")},
    body=jbody({"type": "object", "required": ["filename", "size"], "properties": {"filename": {"type": "string", "minLength": 1}, "content_type": {"type": "string"}, "size": {"type": "integer", "minimum": 1}}}), tags=["records"])},
 "/api/records/upload": {"post": op("Upload in one request (multipart: `file`, optional `metadata` JSON)", {"202": js(ref("Accepted"), "Accepted"), **errs("400", "401", "413", "415", "429", "503")},
    body={"required": True, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}, "metadata": {"type": "string"}}}}}}, tags=["records"])},
 "/api/records": {"get": op("My recordings, newest first", {"200": js(ref("RecordList")), **errs("400", "401", "429", "503")},
    params=[q("limit", {"type": "integer", "minimum": 1, "maximum": 100}), q("cursor", {"type": "string"}, "next_cursor of the previous page")], tags=["records"])},
 "/api/records/{id}": {
    "get": op("One recording with its analysis", {"200": js(ref("Record")), **errs("400", "401", "403", "404", "429", "503")}, params=[rid, q("include", {"type": "string"}, "`embedding` adds the vector (the owner's and admins' only: 403 for others)")], tags=["records"]),
    "patch": op("Make a recording public or private, and the name others see beside it (never the owner's id)", {"200": js(ref("Record")), **errs("400", "401", "403", "404", "429", "503")}, params=[rid],
       body=jbody({"type": "object", "additionalProperties": False, "properties": {"visibility": ref("Visibility"), "display_name": {"type": "string", "maxLength": 64}}}), tags=["records"]),
    "delete": op("Delete a recording and its audio", {"204": {"description": "Deleted"}, **errs("401", "403", "404", "429", "503")}, params=[rid], tags=["records"])},
 "/api/records/{id}/status": {"get": op("The current status, for polling (from the Redis cache when there is one)",
    {"200": js({"type": "object", "required": ["record_id", "status", "attempt", "cached"], "properties": {"record_id": {"type": "string"}, "status": ref("Status"),
      "attempt": {"type": "integer"}, "error": nstr, "cached": {"type": "boolean"}}}), **errs("401", "404", "429", "503")}, params=[rid], tags=["records"])},
 "/api/processing/status/{id}": {"get": op("Live status (server-sent events: `status` events until a terminal status); `?ticket=` (POST /api/tickets) for EventSource",
    {"200": {"description": "An event stream: `event: status`, data a StatusEvent", "content": {"text/event-stream": {"schema": {"type": "object", "required": ["event", "data"], "properties": {
        "event": {"type": "string", "enum": ["status"]}, "id": {"type": "string"},
        "data": {"type": "string", "description": "A StatusEvent as JSON"}}}}}}, **errs("401", "404", "429", "503")}, params=[rid, q("ticket", {"type": "string"})], tags=["records"])},
 "/api/records/{id}/similar": {"get": op("Voices like this recording's", {"200": js(ref("Neighbours")), **errs("400", "401", "404", "409", "429", "503")}, params=[rid, q("k", {"type": "integer", "minimum": 1, "maximum": 100})], tags=["search"])},
 "/api/search/similar": {"post": op("Voices like a recording's, or a raw vector's (admins only); filters.owner for admins (or oneself)", {"200": js(ref("Neighbours")), **errs("400", "401", "403", "404", "409", "429", "503")}, body=jbody(ref("SearchRequest")), tags=["search"])},
 "/api/recommendations/songs": {"post": op("Songs that fit a recording's voice", {"200": js(ref("Songs")), **errs("400", "401", "404", "409", "429", "503")}, body=jbody(ref("SongsRequest")), tags=["songs"])},
 "/api/recommendations/dislikes": {"post": op("Never recommend this song to me again", {"204": {"description": "Recorded"}, **errs("400", "401", "404", "429", "503")},
    body=jbody({"type": "object", "required": ["song_id"], "additionalProperties": False, "properties": {"song_id": {"type": "integer"}}}), tags=["songs"])},
 "/api/records/async/upload-completed": {"post": op("Bucket notifications (AWS S3, MinIO, EventBridge, SeaweedFS); the webhook secret as a bearer token or X-Orak-Signature HMAC; body at most 256 KiB; a source that keeps failing gets 429",
    {"200": js(ref("BucketOutcome")), **errs("400", "401", "403", "404", "413", "429", "503")}, security=[{"webhook": []}, {"webhookSignature": []}],
    body=jbody({"type": "object", "additionalProperties": True}), tags=["webhooks"])},
 "/api/admin/dead-letters": {"get": op("Dead letters (FAILED records), most recent first", {"200": js(ref("DeadLetters")), **errs("400", "401", "403", "429", "503")},
    params=[q("owner", {"type": "string"}), q("error", {"type": "string"}, "text the last error contains"), q("failed_after", {"type": "string", "format": "date-time"}), q("failed_before", {"type": "string", "format": "date-time"}),
            q("limit", {"type": "integer", "minimum": 1, "maximum": 100}), q("cursor", {"type": "string"})], tags=["admin"])},
 "/api/admin/dead-letters/audit": {"get": op("What admins did with dead letters", {"200": js({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": ref("AuditEntry")}}}), **errs("400", "401", "403", "429", "503")},
    params=[q("record_id", {"type": "string"}), q("before", {"type": "integer"}), q("limit", {"type": "integer", "minimum": 1, "maximum": 100})], tags=["admin"])},
 "/api/admin/dead-letters/{id}": {
    "get": op("A dead letter with its attempts and audit trail", {"200": js(ref("DeadLetter")), **errs("401", "403", "404", "409", "429", "503")}, params=[rid], tags=["admin"]),
    "delete": op("Discard a dead letter (record and audio; an audit row stays)", {"204": {"description": "Discarded"}, **errs("401", "403", "404", "409", "429", "503")}, params=[rid], tags=["admin"])},
 "/api/admin/dead-letters/{id}/requeue": {"post": op("Requeue a dead letter with a fresh budget of attempts", {"200": js(ref("Record")), **errs("401", "403", "404", "409", "429", "503")}, params=[rid], tags=["admin"])},
 "/api/webhook/alertmanager": {"post": op("Alertmanager's webhook (payload version 4); the webhook secret as a bearer token or X-Orak-Signature HMAC",
    {"200": js({"type": "object", "required": ["received", "changed", "repeated"], "properties": {"received": {"type": "integer"}, "changed": {"type": "integer"}, "repeated": {"type": "integer"}}}),
     **errs("400", "401", "403", "404", "413", "429", "503")}, security=[{"webhook": []}, {"webhookSignature": []}],
    body=jbody({"type": "object", "required": ["version", "alerts"], "additionalProperties": True, "properties": {"version": {"type": "string"}, "alerts": {"type": "array", "items": {"type": "object"}}}}), tags=["webhooks"])},
 "/api/admin/alerts": {"get": op("Alerts received from Alertmanager, newest first, with their status changes", {"200": js({"type": "object", "required": ["items", "next_before"], "properties": {"items": {"type": "array", "items": ref("Alert")}, "next_before": {"type": "integer", "nullable": True}}}), **errs("400", "401", "403", "429", "503")},
    params=[q("status", {"type": "string", "enum": ["firing", "resolved"]}), q("before", {"type": "integer"}, "next_before of the previous page"), q("limit", {"type": "integer", "minimum": 1, "maximum": 100})], tags=["admin"])},
 "/api/admin/alerts/stream": {"get": op("Live alerts (server-sent events: `alert` events, the most recent first); `?ticket=` (POST /api/tickets) for EventSource",
    {"200": {"description": "An event stream: `event: alert`, data an Alert", "content": {"text/event-stream": {"schema": {"type": "object", "required": ["event", "data"], "properties": {
        "event": {"type": "string", "enum": ["alert"]}, "data": {"type": "string", "description": "An Alert as JSON"}}}}}}, **errs("401", "403", "429", "503")}, params=[q("ticket", {"type": "string"})], tags=["admin"])},
 "/objects/audio/{id}": {"put": op("The signed upload URL (embedded object store): the recording's bytes", {"200": js(ref("Stored")), **errs("400", "403", "404", "409", "413", "415", "503")}, security=[],
    params=[rid, q("expires", {"type": "integer"}), q("size", {"type": "integer"}), q("sig", {"type": "string"})],
    body={"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}, tags=["records"])},
 "/api/audio/{id}": {"get": op("A recording's audio for playback (owner, admin, or anyone when public), as an audio download; `?ticket=` (POST /api/tickets) for <audio>. With S3, a redirect to a short-lived presigned URL",
    {"200": {"description": "The audio, as uploaded (ranges supported)", "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}, "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
     "206": {"description": "Part of the audio (Range)", "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}},
     "307": {"description": "S3: the presigned download URL", "headers": {"Location": {"schema": {"type": "string"}}}},
     **errs("401", "404", "429", "503")}, params=[rid, q("ticket", {"type": "string"})], tags=["records"])},
 "/api/ui/config": {"get": op("What the web page needs before signing in", {"200": js({"type": "object", "required": ["dev_sign_in", "sign_in_link", "max_upload_bytes", "version"], "properties": {
    "dev_sign_in": {"type": "boolean"}, "sign_in_link": {"type": "boolean"}, "max_upload_bytes": {"type": "integer"}, "version": {"type": "string"}}}), **errs("429")}, security=[], tags=["web"])},
 "/api/dev/token": {"post": op("Sign in as a name, for a user token (loopback-only instances with [auth] dev_sign_in; never an admin token: 403)",
    {"200": js(ref("UserToken")), **errs("400", "403", "404", "429")}, security=[],
    body=jbody({"type": "object", "required": ["user"], "additionalProperties": False, "properties": {"user": {"type": "string", "minLength": 1, "maxLength": 64}, "admin": {"type": "boolean"}}}), tags=["web"])},
 "/api/session/link": {"post": op("Redeem the one-time sign-in link a loopback-only instance logs, for a user token (each link works once)",
    {"200": js(ref("UserToken")), **errs("400", "401", "404", "429")}, security=[],
    body=jbody({"type": "object", "required": ["code", "user"], "additionalProperties": False, "properties": {"code": {"type": "string"}, "user": {"type": "string", "minLength": 1, "maxLength": 64}}}), tags=["web"])},
 "/api/me/export": {"get": op("Everything kept about me, as one JSON download: each recording with its analysis, voice embedding and audio URL, and my dislikes",
    {"200": js({"type": "object", "required": ["user", "exported_at", "records", "disliked_song_ids"], "properties": {"user": {"type": "string"}, "exported_at": {"type": "string", "format": "date-time"},
      "records": {"type": "array", "items": {"type": "object", "additionalProperties": True}}, "disliked_song_ids": {"type": "array", "items": {"type": "integer"}}}}), **errs("401", "429", "503")}, tags=["me"])},
 "/api/me": {"delete": op("Erase everything of mine (recordings, audio, embeddings, dislikes, caches, my name in the audit); ?confirm= repeats my user name",
    {"200": js({"type": "object", "required": ["user", "records"], "properties": {"user": {"type": "string"}, "records": {"type": "integer"}}}), **errs("400", "401", "429", "503")},
    params=[q("confirm", {"type": "string"}, "your user name, repeated")], tags=["me"])},
 "/api/tickets": {"post": op("A short-lived ticket (a minute) for one URL a browser opens without headers: a record's status stream or audio, or the admin alert stream",
    {"201": js({"type": "object", "required": ["ticket", "url", "expires_at"], "properties": {"ticket": {"type": "string"}, "url": {"type": "string", "description": "The URL to open, ticket included"},
      "expires_at": {"type": "string", "format": "date-time"}}}, "Created"), **errs("400", "401", "403", "404", "429", "503")},
    body=jbody({"type": "object", "required": ["scope"], "additionalProperties": False, "properties": {"scope": {"type": "string", "enum": ["status", "audio", "alerts"]}, "record_id": {"type": "string"}}}), tags=["records"])},
 "/": {"get": op("The web UI (HTML; its script and styles at /app.js and /app.css)", {"200": {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}}}, security=[], tags=["web"])},
 "/health": {"get": op("Liveness", {"200": js({"type": "object"})}, security=[], tags=["operations"])},
 "/ready": {"get": op("Readiness: database reachable, actors alive (which check failed goes to the log, not the answer)",
    {"200": js({"type": "object", "required": ["status"], "additionalProperties": False, "properties": {"status": {"type": "string", "enum": ["ready"]}}}),
     "503": js({"type": "object", "required": ["status"], "additionalProperties": False, "properties": {"status": {"type": "string", "enum": ["unavailable"]}}}, "Not ready")}, security=[], tags=["operations"])},
 "/metrics": {"get": op("Prometheus metrics (absent when served on server.metrics_bind)", {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}, "404": err("Served elsewhere")}, security=[], tags=["operations"])},
 "/api/openapi.json": {"get": op("This document", {"200": js({"type": "object"})}, security=[], tags=["operations"])},
}
# Operation ids, and links from the operations that create a record to those that
# use one (schemathesis's stateful phase follows them with real record ids).
ids = {("/api/records/{id}", "get"): "getRecord", ("/api/records/{id}", "patch"): "setVisibility",
       ("/api/records/{id}", "delete"): "deleteRecord", ("/api/records/{id}/similar", "get"): "similarToRecord",
       ("/api/processing/status/{id}", "get"): "statusStream", ("/api/records/presigned-url", "post"): "presign",
       ("/api/records/upload", "post"): "uploadMultipart", ("/api/admin/dead-letters/{id}", "get"): "deadLetter", ("/api/records/{id}/status", "get"): "pollStatus"}
for (path, method), oid in ids.items():
    paths[path][method]["operationId"] = oid
links = {name: {"operationId": oid, "parameters": {"id": "$response.body#/record_id"}}
         for name, oid in [("GetRecord", "getRecord"), ("SetVisibility", "setVisibility"), ("Similar", "similarToRecord"),
                           ("Status", "statusStream"), ("Poll", "pollStatus"), ("DeadLetter", "deadLetter"), ("DeleteRecord", "deleteRecord")]}
paths["/api/records/presigned-url"]["post"]["responses"]["201"]["links"] = links
paths["/api/records/upload"]["post"]["responses"]["202"]["links"] = links

doc = {"openapi": "3.0.3",
 "info": {"title": "orakgaraki", "version": "0.1.0", "description": "Voice analysis service: upload a recording, watch it be analysed, find similar voices and songs that fit. Errors have one shape: {\"error\": {\"code\", \"message\"}}."},
 "servers": [{"url": "/"}],
 "paths": paths,
 "components": {"schemas": schemas, "securitySchemes": {
   "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
   "webhook": {"type": "http", "scheme": "bearer", "description": "[webhooks] secret"},
   "webhookSignature": {"type": "apiKey", "in": "header", "name": "X-Orak-Signature", "description": "sha256=<hex HMAC-SHA256 of the body under the webhook secret>"}}}}
import os
json.dump(doc, open(os.path.join(os.path.dirname(__file__), '..', 'src', 'http', 'openapi.json'), 'w'), indent=1)
print(len(paths), sum(len(v) for v in paths.values()))
