//! Roll-up statistics: a city node counts what its counties pushed up, per child region.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::federation::{Federation, wait_for};
use crate::harness::*;

#[tokio::test]
async fn a_city_rolls_up_its_counties_records() {
    let federation = Federation::new();
    let city = federation.spawn("445100", None, 0).await;
    let county = federation.spawn("445122", Some(&city.base_url), 0).await;

    let mut records = Vec::new();
    for i in 0..4 {
        records.push(record(ENTERPRISE, &format!("ST-{i}")));
    }
    let mut shared = record(ENTERPRISE, "ST-shared");
    shared["publication_level"] = json!("shared");
    shared["kind"] = json!("administrative_penalty");
    shared.as_object_mut().unwrap().remove("category");
    records.push(shared);
    let created = county
        .post(
            "/api/v1/records/batch",
            Some(&county.provider()),
            &json!({"records": records}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = county
        .post(
            &format!("/api/v1/records/{id}/revocations"),
            Some(&county.provider()),
            &json!({"reason": "异议成立，撤销", "expected_version": 1}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    wait_for(&city, "445122", 6).await;

    let stats = city
        .get("/api/v1/stats/regions/445100", Some(&city.supervisor()))
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.text);
    assert_eq!(stats.body["name"], "潮州市");
    assert_eq!(stats.body["total"], 5);
    assert_eq!(stats.body["by_kind"]["dishonesty"], 4);
    assert_eq!(stats.body["by_kind"]["administrative_penalty"], 1);
    assert_eq!(stats.body["by_status"]["revoked"], 1);
    assert_eq!(stats.body["by_status"]["active"], 4);
    assert_eq!(stats.body["by_publication_level"]["shared"], 1);
    assert_eq!(stats.body["public_only"], false);
    let children = stats.body["children"].as_array().unwrap();
    let raoping = children.iter().find(|c| c["region"] == "445122").unwrap();
    assert_eq!(raoping["total"], 5);
    assert_eq!(raoping["by_domain"]["bidding"], 5);
    let other = children.iter().find(|c| c["region"] == "445102").unwrap();
    assert_eq!(other["total"], 0, "every child region is listed");

    // A county node answers for itself, not for its city.
    let out_of_scope = county
        .get("/api/v1/stats/regions/445100", Some(&county.supervisor()))
        .await;
    assert_eq!(out_of_scope.status, StatusCode::FORBIDDEN);
    assert_eq!(out_of_scope.code(), "region_out_of_scope");
    let county_own = county
        .get("/api/v1/stats/regions/445122", Some(&county.provider()))
        .await;
    assert_eq!(county_own.body["total"], 5);

    // Keys: stats:read needed; a non-government holder counts public records only.
    let anonymous = city.get("/api/v1/stats/regions/445100", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let (_, unscoped) = city.issue_key(&["match"], 10, 10, 100).await;
    let refused = city
        .call_with_key(Method::GET, "/api/v1/stats/regions/445100", &unscoped, None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "missing_scope");
    let (_, key) = city.issue_key(&["stats:read"], 10, 10, 100).await;
    let public = city
        .call_with_key(Method::GET, "/api/v1/stats/regions/445100", &key, None)
        .await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text);
    assert_eq!(public.body["public_only"], true);
    assert_eq!(
        public.body["total"], 3,
        "what the public view shows: public level, not revoked"
    );
    let bad = city
        .get("/api/v1/stats/regions/12345", Some(&city.supervisor()))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.code(), "invalid_region");
}
