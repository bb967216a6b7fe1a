//! HTTP metrics: requests by route template, method and status
//! (`orak_http_requests_total`) and their latency (`orak_http_request_duration_seconds`).
//! The template is the OpenAPI document's path that the request matches (ids
//! replaced by `{id}`), so label values stay few whatever clients send; anything
//! else is counted as `other`.

use std::sync::OnceLock;
use std::time::Duration;

/// The documented path templates, split into segments.
fn templates() -> &'static [(String, Vec<String>)] {
    static T: OnceLock<Vec<(String, Vec<String>)>> = OnceLock::new();
    T.get_or_init(|| {
        let doc: serde_json::Value = serde_json::from_str(super::openapi::DOCUMENT).unwrap_or_default();
        doc["paths"]
            .as_object()
            .map(|paths| paths.keys().map(|p| (p.clone(), p.split('/').map(str::to_owned).collect())).collect())
            .unwrap_or_default()
    })
}

/// The route template a request path falls under, or `other`.
pub fn template(path: &str) -> &'static str {
    let n = path.split('/').count();
    templates()
        .iter()
        .find(|(_, t)| {
            t.len() == n && t.iter().zip(path.split('/')).all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .map_or("other", |(p, _)| p.as_str())
}

/// Records one answered request.
pub fn record(method: &str, path: &str, status: u16, elapsed: Duration) {
    let route = template(path);
    let status = status.to_string();
    metrics::counter!(crate::telemetry::HTTP_REQUESTS, "route" => route, "method" => method.to_owned(), "status" => status)
        .increment(1);
    metrics::histogram!(crate::telemetry::HTTP_DURATION, "route" => route, "method" => method.to_owned())
        .record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn paths_map_to_their_documented_template() {
        assert_eq!(template("/api/records"), "/api/records");
        assert_eq!(template("/api/records/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), "/api/records/{id}");
        assert_eq!(template("/api/records/x/similar"), "/api/records/{id}/similar");
        assert_eq!(template("/api/admin/dead-letters/audit"), "/api/admin/dead-letters/audit");
        assert_eq!(template("/objects/audio/abc"), "/objects/audio/{id}");
        assert_eq!(template("/wp-admin/login.php"), "other");
        assert_eq!(template("/api/records/"), "other");
    }
}
