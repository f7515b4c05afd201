//! The OpenAPI document describes every endpoint of the HTTP API with its operations, and the
//! wire types they exchange; it is public, like the API's shape it describes.

use crate::auth_matrix::{secured, token};
use signalbox::server::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_is_described_and_the_document_is_public() {
    let data = tempfile::tempdir().unwrap();
    let server = secured(data.path()).await;
    // No credentials needed for the description.
    let (status, doc) = server.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let endpoints = [
        ("/api/v1/pipelines", "get"),
        ("/api/v1/pipelines/{id}", "get"),
        ("/api/v1/pipelines/{id}/plan", "post"),
        ("/api/v1/runs", "get"),
        ("/api/v1/runs", "post"),
        ("/api/v1/runs/{id}", "get"),
        ("/api/v1/runs/{id}/events", "get"),
        ("/api/v1/runs/{id}/events", "post"),
        ("/api/v1/runs/{id}/steps/{step}/logs", "get"),
        ("/api/v1/runs/{id}/cancel", "post"),
        ("/api/v1/runs/{id}/retry", "post"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{jti}", "delete"),
        ("/api/v1/audit", "get"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in endpoints {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is described");
        assert!(
            operation["responses"]["401"].is_object(),
            "{method} {path} documents its refusal"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, endpoints.len(), "and nothing else: {paths:?}");
    // Every endpoint this document names answers (none is a 404 from a missing route).
    let admin = token(Role::Admin, |_| {});
    for (path, method) in endpoints.iter().filter(|(_, m)| *m == "get") {
        let url = server.url(&path.replace("{id}", "nope").replace("{step}", "x"));
        let response = server
            .http
            .get(url)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_ne!(
            body["error"]["message"].as_str(),
            Some("no such API endpoint (see /api/v1 in the README)"),
            "{method} {path}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "RunState",
        "RunSummary",
        "StoredEvent",
        "NewEvent",
        "Status",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    let statuses = &schemas["Status"]["enum"];
    assert_eq!(statuses.as_array().unwrap().len(), 7, "{statuses}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    server.stop().await;
}
