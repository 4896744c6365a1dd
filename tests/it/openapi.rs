//! The committed spec must match the code. `UPDATE_OPENAPI=1 cargo test openapi` rewrites it.

use std::path::Path;

#[test]
fn committed_openapi_matches_the_code() {
    let generated = integrity_exchange::api::openapi()
        .to_pretty_json()
        .expect("spec serialises")
        + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(&path, &generated).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date; run `UPDATE_OPENAPI=1 cargo test openapi` and review the diff"
    );
}

#[test]
fn every_operation_documents_security_and_problem_responses() {
    let spec = serde_json::to_value(integrity_exchange::api::openapi()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 7);
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            assert!(operation["operationId"].is_string(), "{name}: operationId");
            assert!(operation["security"].is_array(), "{name}: security");
            assert!(operation["tags"].is_array(), "{name}: tag");
            assert!(
                operation["description"].is_string() || operation["summary"].is_string(),
                "{name}: description"
            );
            if path.starts_with("/api/") {
                let responses = operation["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|status| status.starts_with('4')),
                    "{name}: documents its 4xx problems"
                );
                assert!(
                    responses
                        .iter()
                        .filter(|(status, _)| status.starts_with('4'))
                        .all(|(_, r)| r["content"]["application/problem+json"].is_object()),
                    "{name}: 4xx are problem+json"
                );
            }
        }
    }
}
