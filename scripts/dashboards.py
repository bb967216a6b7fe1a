# Writes the Grafana dashboards in deploy/grafana/dashboards/ (provisioned by
# compose.yml into the "orakgaraki" folder). Edit here, then run
# `python3 scripts/dashboards.py`; tests/dashboards.rs checks that every metric the
# panels query is exported by a running service (or by node-exporter / Prometheus).
import json, os

PROM = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}
APP = 'job="orakgaraki"'


def panel(title, exprs, unit="short", kind="timeseries", w=12, h=8, desc="", stack=False, ds=PROM):
    """A panel; `exprs` is a list of (query, legend)."""
    p = {
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": ds,
        "targets": [
            {"refId": chr(ord("A") + i), "expr": e, "legendFormat": l, "datasource": ds}
            for i, (e, l) in enumerate(exprs)
        ],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "_w": w,
        "_h": h,
    }
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal" if stack else "none"}, "fillOpacity": 10}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}
    if kind == "logs":
        p["options"] = {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending"}
        p.pop("fieldConfig")
    return p


def dashboard(uid, title, panels, desc):
    x = y = row_h = 0
    out = []
    for i, p in enumerate(panels):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
        p["id"] = i + 1
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x += w
        row_h = max(row_h, h)
        out.append(p)
    return {
        "uid": uid,
        "title": title,
        "description": desc,
        "tags": ["orakgaraki"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [{"title": "orakgaraki", "type": "dashboards", "tags": ["orakgaraki"], "asDropdown": True}],
        "panels": out,
    }


def q(p, metric, by, inner=""):
    """histogram_quantile(p) of `metric` over 5 minutes, by `by`."""
    sel = "{" + inner + "}" if inner else ""
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile({p}, sum by ({group}) (rate({metric}_bucket{sel}[5m])))"


system = dashboard("orak-system", "orakgaraki — System overview", [
    panel("Instances up", [(f"up{{{APP}}}", "{{instance}}")], kind="stat", w=6, h=5, desc="1 while Prometheus can scrape the instance"),
    panel("Database reachable", [("orak_database_up", "{{instance}}")], kind="stat", w=6, h=5, desc="orak_database_up: the batch sweeper's check every sweep interval"),
    panel("Version", [("orak_build_info", "{{instance}} {{version}}")], kind="stat", w=6, h=5),
    panel("Dead letters", [("sum(orak_dead_letters)", "dead letters")], kind="stat", w=6, h=5),
    panel("Process CPU", [("rate(process_cpu_seconds_total{%s}[5m])" % APP, "{{instance}}")], unit="percentunit"),
    panel("Process memory (RSS)", [("process_resident_memory_bytes{%s}" % APP, "{{instance}}")], unit="bytes"),
    panel("Open files", [("process_open_fds{%s}" % APP, "{{instance}} open"), ("process_max_fds{%s}" % APP, "{{instance}} max")]),
    panel("Threads", [("process_threads{%s}" % APP, "{{instance}}")]),
    panel("Host CPU busy", [('1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', "{{instance}}")], unit="percentunit"),
    panel("Host memory used", [("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{instance}}")], unit="percentunit",
          desc="The MemoryAlmostFull alert fires above 95%"),
    panel("Disk used", [('1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}', "{{instance}} {{mountpoint}}")],
          unit="percentunit", desc="The DiskAlmostFull alert fires above 90%"),
    panel("Requests per second", [("sum by (instance) (rate(orak_http_requests_total[5m]))", "{{instance}}")], unit="reqps"),
], "Is the service up, and how are its processes and hosts doing?")

http = dashboard("orak-http", "orakgaraki — HTTP", [
    panel("Requests by route", [("sum by (route) (rate(orak_http_requests_total[5m]))", "{{route}}")], unit="reqps", stack=True),
    panel("Responses by status", [("sum by (status) (rate(orak_http_requests_total[5m]))", "{{status}}")], unit="reqps", stack=True),
    panel("Error rate (5xx)", [('sum(rate(orak_http_requests_total{status=~"5.."}[5m])) / sum(rate(orak_http_requests_total[5m]))', "5xx share")],
          unit="percentunit", desc="The HighErrorRate alert fires above 5%"),
    panel("Client errors (4xx) by route", [('sum by (route, status) (rate(orak_http_requests_total{status=~"4.."}[5m]))', "{{route}} {{status}}")], unit="reqps"),
    panel("Latency p50 / p95 / p99", [(q(0.5, "orak_http_request_duration_seconds", ""), "p50"), (q(0.95, "orak_http_request_duration_seconds", ""), "p95"),
                                       (q(0.99, "orak_http_request_duration_seconds", ""), "p99")], unit="s", desc="The HighLatency alert fires when p95 > 5 s"),
    panel("p95 latency by route", [(q(0.95, "orak_http_request_duration_seconds", "route"), "{{route}}")], unit="s"),
    panel("Rate-limited requests", [("sum by (class) (rate(orak_rate_limited_total[5m]))", "{{class}}")], unit="reqps"),
    panel("Open SSE status streams", [("sum by (instance) (orak_sse_connections)", "{{instance}}")]),
], "Traffic, errors and latency of the HTTP API, by route template.")

actors = dashboard("orak-actors", "orakgaraki — Actors", [
    panel("Messages handled", [("sum by (actor) (rate(orak_actor_messages_total[5m]))", "{{actor}}")], unit="ops"),
    panel("Messages sent", [("sum by (actor) (rate(orak_actor_messages_sent_total[5m]))", "{{actor}}")], unit="ops"),
    panel("Mailbox depth", [("sum by (actor) (orak_actor_mailbox_depth)", "{{actor}}")], desc="Messages waiting (sent − handled); a pool's workers add up"),
    panel("Handling time p95", [(q(0.95, "orak_actor_handling_seconds", "actor"), "{{actor}}")], unit="s"),
    panel("Mean handling time", [("sum by (actor) (rate(orak_actor_handling_seconds_sum[5m])) / sum by (actor) (rate(orak_actor_handling_seconds_count[5m]))", "{{actor}}")], unit="s"),
    panel("Restarts (1 h)", [("sum by (actor) (increase(orak_actor_restarts_total[1h]))", "{{actor}}")], desc="The ActorRestartingRepeatedly alert fires at more than 3 in 10 minutes"),
    panel("Failures (1 h)", [("sum by (actor) (increase(orak_actor_failures_total[1h]))", "{{actor}}")], desc="Panics and fatal errors that ended an actor"),
    panel("Model batch size p50 / p95", [(q(0.5, "orak_model_batch_partials", ""), "p50"), (q(0.95, "orak_model_batch_partials", ""), "p95")]),
], "The supervision tree: how busy each actor is, how far behind, and whether it keeps dying.")

pipeline = dashboard("orak-pipeline", "orakgaraki — Pipeline", [
    panel("Records by status", [("max by (status) (orak_records)", "{{status}}")], stack=True),
    panel("Uploads", [("sum by (path) (rate(orak_uploads_total[5m]))", "{{path}}")], unit="ops", desc="direct: through this service; notified: bucket notification; found: repaired by the sweeper"),
    panel("Queue wait p50 / p95", [(q(0.5, "orak_queue_wait_seconds", ""), "p50"), (q(0.95, "orak_queue_wait_seconds", ""), "p95")], unit="s",
          desc="The seed's target: under 5 minutes"),
    panel("Analysis duration p95 by outcome", [(q(0.95, "orak_analysis_duration_seconds", "outcome"), "{{outcome}}")], unit="s", desc="The seed's target: under 30 s on average"),
    panel("Analyses per minute", [("sum by (outcome) (rate(orak_analysis_duration_seconds_count[5m])) * 60", "{{outcome}}")]),
    panel("Retries and new dead letters", [("sum(rate(orak_retries_total[5m])) * 60", "retries / min"), ("sum(rate(orak_dead_lettered_total[5m])) * 60", "dead-lettered / min")]),
    panel("Dead letters", [("max(orak_dead_letters)", "waiting"), ("sum by (action) (increase(orak_dead_letter_actions_total[1h]))", "{{action}} (1 h)")],
          desc="The DeadLettersGrowing alert fires when they keep growing"),
    panel("Sweeper repairs (1 h)", [("sum by (kind) (increase(orak_sweeper_repairs_total[1h]))", "{{kind}}")]),
    panel("Voice index size", [("max by (instance) (orak_vector_index_size)", "{{instance}}")]),
    panel("Completed per hour", [('sum(increase(orak_analysis_duration_seconds_count{outcome="completed"}[1h]))', "completed")], kind="stat", w=6),
    panel("Failed attempts per hour", [('sum(increase(orak_analysis_duration_seconds_count{outcome="failed"}[1h]))', "failed")], kind="stat", w=6),
], "From upload to analysis: how much flows, how long it waits, and what fails.")

alerts = dashboard("orak-alerts", "orakgaraki — Alerts", [
    panel("Firing alerts", [('sum by (alertname, severity) (ALERTS{alertstate="firing"})', "{{alertname}} ({{severity}})")], kind="table", w=24, h=7,
          desc="From Prometheus's own ALERTS series"),
    panel("Alerts received from Alertmanager", [("sum by (status) (increase(orak_alerts_received_total[1h]))", "{{status}} (1 h)")]),
    panel("Chat forwards", [("sum by (outcome) (increase(orak_alert_forwards_total[1h]))", "{{outcome}} (1 h)")], desc="given_up or dropped: the chat channel missed alerts"),
    panel("Open admin alert streams", [("sum(orak_alert_streams)", "streams")], w=6),
    panel("Pending alerts", [('sum(ALERTS{alertstate="pending"})', "pending")], kind="stat", w=6),
    panel("Error log lines", [('{service=~"app.*"} | json | level="ERROR"', "")], kind="logs", w=24, h=10, ds=LOKI),
], "What is firing, what reached the chat channel, and the error logs behind it.")

here = os.path.join(os.path.dirname(__file__), "..", "deploy", "grafana", "dashboards")
for name, d in [("system", system), ("http", http), ("actors", actors), ("pipeline", pipeline), ("alerts", alerts)]:
    with open(os.path.join(here, f"{name}.json"), "w") as f:
        json.dump(d, f, indent=1)
        f.write("\n")
    print(name, len(d["panels"]), "panels")
