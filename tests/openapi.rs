//! The OpenAPI document stays true: it is served, and every operation it
//! documents is a route the service really has (the schemathesis run in
//! scripts/test.sh then checks that responses match it).

mod common;

use common::Server;
use serde_json::Value;

#[tokio::test]
async fn every_documented_operation_is_served() {
    let s = Server::start(&[("ORAK_WEBHOOKS__SECRET", "hook")]).await;
    let r = s.client.get(s.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, methods) in paths {
        for (method, op) in methods.as_object().unwrap() {
            operations += 1;
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
            let concrete = path.replace("{id}", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = s.client.request(m, s.url(&concrete)).body("").send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path}: method not served");
            assert!(!(status == 404 && body.contains("no such route")), "{method} {path}: not a route");
            // Every status the service answered with is documented for it.
            let documented = op["responses"].as_object().unwrap();
            assert!(
                documented.contains_key(&status.to_string()),
                "{method} {path} answered {status}, which the document does not list"
            );
        }
    }
    assert!(operations >= 30, "{operations} operations");
    // And a route the service does not have is not there.
    let r = s.client.get(s.url("/api/no-such-thing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(!paths.contains_key("/api/no-such-thing"));
}
