//! `GET /api/openapi.json`: the OpenAPI 3 description of the whole HTTP API
//! (`openapi.json` beside this file, built into the binary). Kept true by
//! `tests/openapi.rs` (every documented operation is served) and by the
//! schemathesis run in `scripts/test.sh` (responses match it).

use warp::Filter;
use warp::reply::Reply;

/// The document, as shipped.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn routes() -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "openapi.json")
        .and(warp::get())
        .map(|| warp::reply::with_header(DOCUMENT, "content-type", "application/json"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_valid_json_with_paths() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(doc["paths"].as_object().unwrap().len() > 15);
    }
}
