//! What operators look at stays true to what the service exports:
//! - every metric a Grafana dashboard panel or an alert rule queries is exported by
//!   a running service (after real work), by node-exporter, or by Prometheus itself
//!   — no panel stays empty for lack of a metric;
//! - the dashboards are well-formed provisioning JSON;
//! - JSON log lines carry what promtail extracts (timestamp, level, target,
//!   request_id, record_id, actor), on stdout.

mod common;

use common::cluster::reference;
use common::services::node_exporter;
use common::{Server, sine_wav};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::time::Duration;

/// Metrics Prometheus makes itself (scrape health and alert state).
const PROMETHEUS_OWN: [&str; 3] = ["up", "ALERTS", "ALERTS_FOR_STATE"];

/// Words in PromQL that are not metric names: keywords, and the aggregation
/// operators (which may be followed by `by (…)` before their parenthesis).
const PROMQL_WORDS: [&str; 24] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// The metric names a PromQL expression selects.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            // A string (a label value or a regex).
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == b'{' {
            // Label matchers.
            while i < b.len() && b[i] != b'}' {
                if b[i] == b'"' {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                }
                i += 1;
            }
            i += 1;
        } else if c == b'[' {
            // A range or subquery duration.
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &expr[start..i];
            let mut j = i;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let call = j < b.len() && b[j] == b'(';
            let grouping = matches!(word, "by" | "without" | "on" | "ignoring" | "group_left" | "group_right");
            if grouping && call {
                // Skip the label list.
                while i < b.len() && b[i] != b')' {
                    i += 1;
                }
                i += 1;
            } else if !call && !PROMQL_WORDS.contains(&word) {
                names.insert(word.to_owned());
            }
        } else if c.is_ascii_digit() {
            // A number or a duration like 5m.
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn promql_names_are_found() {
    let e = r#"histogram_quantile(0.95, sum by (le, route) (rate(orak_http_request_duration_seconds_bucket{status=~"5.."}[5m]))) > 5"#;
    assert_eq!(metric_names(e), BTreeSet::from(["orak_http_request_duration_seconds_bucket".to_owned()]));
    let e = r#"1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes and on (instance) up{job="x"} == 1"#;
    assert_eq!(
        metric_names(e),
        ["node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "up"].map(str::to_owned).into_iter().collect()
    );
    assert_eq!(
        metric_names(r#"sum(ALERTS{alertstate="firing", alertname="a b"})"#),
        BTreeSet::from(["ALERTS".to_owned()])
    );
}

/// Every Prometheus query of every dashboard, with where it is.
fn dashboard_queries() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/dashboards");
    let mut out = Vec::new();
    let mut uids = HashSet::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let dashboards: Vec<_> = files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    let names: Vec<String> = dashboards.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    for wanted in ["system", "http", "actors", "pipeline", "alerts"] {
        assert!(names.iter().any(|n| n == wanted), "no {wanted} dashboard in {}", dir.display());
    }
    for path in dashboards {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()), "{file}: no title");
        assert!(uids.insert(d["uid"].as_str().unwrap().to_owned()), "{file}: uid used twice");
        let panels = d["panels"].as_array().unwrap();
        assert!(!panels.is_empty(), "{file}: no panels");
        for p in panels {
            let title = p["title"].as_str().unwrap();
            let ds = p["datasource"]["uid"].as_str().unwrap();
            assert!(ds == "prometheus" || ds == "loki", "{file}/{title}: datasource {ds} is not provisioned");
            assert!(p["gridPos"]["w"].as_u64().is_some_and(|w| w > 0 && w <= 24), "{file}/{title}: gridPos");
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}/{title}: no query");
            for t in targets {
                let expr = t["expr"].as_str().unwrap();
                assert!(!expr.is_empty(), "{file}/{title}: empty query");
                if ds == "prometheus" {
                    out.push((format!("{file} / {title}"), expr.to_owned()));
                }
            }
        }
    }
    out
}

/// Every alert rule's expression (deploy/prometheus/alerts.yml).
fn alert_rule_queries() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/alerts.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut alert = String::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(a) = l.strip_prefix("- alert:") {
            alert = a.trim().to_owned();
        } else if let Some(e) = l.strip_prefix("expr:") {
            out.push((format!("alerts.yml / {alert}"), e.trim().to_owned()));
        }
    }
    assert!(out.len() >= 9, "{out:?}");
    out
}

/// Metric names in a Prometheus text exposition (histograms and summaries with
/// their `_bucket`, `_sum` and `_count` series).
fn exported(text: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else { continue };
            names.insert(name.to_owned());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

#[tokio::test]
async fn every_metric_a_dashboard_or_alert_uses_is_exported() {
    let s = Server::start(&[("ORAK_WEBHOOKS__SECRET", "hook")]).await;
    // Real work, so the histograms have observations: a spoken recording analysed
    // to the end (voice embedding included).
    let token = s.token("grafana-check", false);
    let id = s.upload_presigned(&token, "voice.wav", reference("librivox_0870.wav")).await;
    let done = s.wait_terminal(&token, &id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "COMPLETED", "{}", s.log());
    let _ = s.client.get(s.url("/api/records")).bearer_auth(&token).send().await.unwrap();
    // The batch sweeper's first pass (records by status, dead letters, index size).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut have = exported(&s.metrics().await);

    let mut node = node_exporter();
    node.start();
    let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", node.port)).await.unwrap().text().await.unwrap();
    have.extend(exported(&text));
    have.extend(PROMETHEUS_OWN.map(str::to_owned));

    let mut missing = Vec::new();
    let mut checked = BTreeSet::new();
    for (place, expr) in dashboard_queries().into_iter().chain(alert_rule_queries()) {
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "{place}: no metric in {expr}");
        for name in names {
            if !have.contains(&name) {
                missing.push(format!("{place}: {name}"));
            }
            checked.insert(name);
        }
    }
    assert!(missing.is_empty(), "used but not exported:\n{}", missing.join("\n"));
    // The issue's list: per-actor, HTTP, pipeline and process metrics are all charted.
    for must in [
        "orak_actor_mailbox_depth",
        "orak_actor_messages_total",
        "orak_actor_handling_seconds_bucket",
        "orak_actor_restarts_total",
        "orak_actor_failures_total",
        "orak_http_requests_total",
        "orak_http_request_duration_seconds_bucket",
        "orak_uploads_total",
        "orak_records",
        "orak_queue_wait_seconds_bucket",
        "orak_analysis_duration_seconds_bucket",
        "orak_retries_total",
        "orak_dead_letters",
        "orak_sse_connections",
        "orak_model_batch_partials_bucket",
        "orak_vector_index_size",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(checked.contains(must), "no panel or rule charts {must}");
    }
}

#[tokio::test]
async fn json_log_lines_carry_what_promtail_extracts() {
    let s = Server::start(&[("ORAK_LOG__FORMAT", "json")]).await;
    let token = s.token("logs", false);
    let id = s.upload_presigned(&token, "voice.wav", sine_wav(2.0, 22_050, 220.0, 0.5)).await;
    let done = s.wait_terminal(&token, &id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "COMPLETED");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = s.full_log();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() > 5, "{log}");
    for l in &lines {
        let ts = l["timestamp"].as_str().unwrap_or_else(|| panic!("no timestamp: {l}"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "timestamp {ts} is not RFC 3339 (promtail parses RFC3339Nano)"
        );
        assert!(l["level"].is_string() && l["target"].is_string(), "{l}");
    }
    // promtail's json stage reads these paths (deploy/loki/promtail.yml).
    let promtail =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/loki/promtail.yml")).unwrap();
    let at = |l: &Value, path: &str| path.split('.').fold(l.clone(), |v, k| v[k].clone());
    let mut paths = Vec::new();
    let mut in_expressions = false;
    for line in promtail.lines() {
        let t = line.trim();
        if t == "expressions:" {
            in_expressions = true;
        } else if in_expressions {
            match t.split_once(':') {
                Some((_, path)) if !path.trim().is_empty() && line.starts_with("            ") => {
                    paths.push(path.trim().to_owned())
                }
                _ => in_expressions = false,
            }
        }
    }
    for want in ["timestamp", "level", "target", "span.actor", "span.request_id", "record_id"] {
        assert!(paths.iter().any(|p| p == want), "promtail does not extract {want}: {paths:?}");
    }
    for path in &paths {
        assert!(lines.iter().any(|l| !at(l, path).is_null()), "no log line has {path}");
    }
    // The record's own lines: its id, and the actor that logged them.
    let about: Vec<&Value> = lines.iter().filter(|l| l["record_id"] == id.as_str()).collect();
    assert!(!about.is_empty(), "no line names the record");
    let actors: HashSet<&str> = about.iter().filter_map(|l| l["span"]["actor"].as_str()).collect();
    assert!(actors.contains("analysis-worker"), "actors on the record's lines: {actors:?}");
}
