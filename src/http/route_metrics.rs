//! HTTP metrics: requests by route template, method and status
//! (`orak_http_requests_total`) and their latency (`orak_http_request_duration_seconds`).
//! The template is the OpenAPI document's path that the request matches (ids
//! replaced by `{id}`), and the method one of HTTP's own, so label values stay few
//! whatever clients send; anything else is counted as `other`.

use metrics::{Counter, Histogram};
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;
use warp::http::Method;

/// The documented path templates, as a router (static segments before `{id}`).
fn templates() -> &'static matchit::Router<String> {
    static ROUTER: OnceLock<matchit::Router<String>> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let doc: serde_json::Value = serde_json::from_str(super::openapi::DOCUMENT).unwrap_or_default();
        let mut router = matchit::Router::new();
        for path in doc["paths"].as_object().into_iter().flat_map(|paths| paths.keys()) {
            if let Err(e) = router.insert(path.as_str(), path.clone()) {
                tracing::warn!(path, error = %e, "route template left out of the HTTP metrics");
            }
        }
        router
    })
}

/// The route template a request path falls under, or `other`.
pub fn template(path: &str) -> &'static str {
    templates().at(path).map_or("other", |m| m.value.as_str())
}

/// HTTP's own methods by name; an extension method is `other`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN.iter().find(|(m, _)| m == method).map_or("other", |(_, name)| name)
}

/// The series of answered requests. Keeps each (route, method, status)'s handles
/// once registered: building the labelled keys and finding them in the registry
/// on every request was a tenth of the read path's user-space time. Its keys are
/// bounded (templates × methods × status codes).
#[derive(Default)]
pub struct RouteMetrics {
    handles: RwLock<HashMap<RouteKey, (Counter, Histogram)>>,
}

/// Route template, method and status code.
type RouteKey = (&'static str, &'static str, u16);

impl RouteMetrics {
    /// Records one answered request.
    pub fn record(&self, method: &Method, path: &str, status: u16, elapsed: Duration) {
        let key = (template(path), method_label(method), status);
        let seconds = elapsed.as_secs_f64();
        if let Ok(handles) = self.handles.read()
            && let Some((count, duration)) = handles.get(&key)
        {
            count.increment(1);
            duration.record(seconds);
            return;
        }
        let (route, method, _) = key;
        let status_label = status.to_string();
        let count = metrics::counter!(
            crate::telemetry::HTTP_REQUESTS,
            "route" => route,
            "method" => method,
            "status" => status_label,
        );
        let duration = metrics::histogram!(crate::telemetry::HTTP_DURATION, "route" => route, "method" => method);
        count.increment(1);
        duration.record(seconds);
        if let Ok(mut handles) = self.handles.write() {
            handles.insert(key, (count, duration));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Method, method_label, template};

    #[test]
    fn paths_map_to_their_documented_template() {
        assert_eq!(template("/api/records"), "/api/records");
        assert_eq!(template("/api/records/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), "/api/records/{id}");
        assert_eq!(template("/api/records/x/similar"), "/api/records/{id}/similar");
        assert_eq!(template("/api/records/upload"), "/api/records/upload");
        assert_eq!(template("/api/records/upload/similar"), "/api/records/{id}/similar");
        assert_eq!(template("/api/admin/dead-letters/audit"), "/api/admin/dead-letters/audit");
        assert_eq!(template("/api/admin/dead-letters/x/requeue"), "/api/admin/dead-letters/{id}/requeue");
        assert_eq!(template("/objects/audio/abc"), "/objects/audio/{id}");
        assert_eq!(template("/"), "/");
        assert_eq!(template("/wp-admin/login.php"), "other");
        assert_eq!(template("/api/records/"), "other");
        assert_eq!(template("/api/records//similar"), "other");
    }

    #[test]
    fn extension_methods_are_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"PROPFIND").unwrap()), "other");
    }
}
