//! The web UI: the static files in `web/`, embedded in the binary at build time
//! (no build step, no files to deploy), served at `/`, `/app.js` and `/app.css`.
//! The page talks to the API with the user's token; see `web/app.js`.

use warp::Filter;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

/// (path, content type, bytes) of every file the UI needs.
const FILES: [(&str, &str, &str); 3] = [
    ("index.html", "text/html; charset=utf-8", include_str!("../../web/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../web/app.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../../web/app.css")),
];

fn file(name: &'static str) -> Response {
    let (_, kind, body) = FILES.iter().find(|(n, _, _)| *n == name).copied().unwrap_or(FILES[0]);
    let mut r = warp::reply::Response::new(body.into());
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    // Small files, revalidated on each load: a new binary's UI shows at once.
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

pub fn routes() -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let get = warp::get().or(warp::head()).unify();
    let index = warp::path::end().and(get).map(|| file("index.html"));
    let js = warp::path!("app.js").and(get).map(|| file("app.js"));
    let css = warp::path!("app.css").and(get).map(|| file("app.css"));
    index.or(js).unify().or(css).unify()
}
