//! Authentication: forged, expired, alg:none, wrong-region and malformed credentials.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integrity_exchange::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

fn claims_json(region: &str, exp: i64) -> serde_json::Value {
    json!({
        "sub": "mallory", "role": "provider", "dept": DEPT, "region": region,
        "iss": "integrity-exchange", "aud": "integrity-exchange",
        "iat": test_now().unix_timestamp(), "exp": exp
    })
}

#[tokio::test]
async fn writes_need_a_provider_token() {
    let app = spawn_app().await;
    let anonymous = app
        .post("/api/v1/records", None, &record(ENTERPRISE, "A"))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.code(), "authentication_required");
    assert!(anonymous.headers.contains_key("www-authenticate"));
    let admin = app
        .post(
            "/api/v1/records",
            Some(&app.token(Role::Admin, None)),
            &record(ENTERPRISE, "A"),
        )
        .await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    assert_eq!(admin.code(), "role_not_allowed");
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
    let refusals: Vec<_> = app
        .state
        .store
        .recent_audit(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.entry.action == "request.refuse")
        .map(|row| row.entry.outcome)
        .collect();
    assert!(
        refusals.contains(&"authentication_required".to_owned()),
        "{refusals:?}"
    );
    assert!(
        refusals.contains(&"role_not_allowed".to_owned()),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn expired_tokens_are_refused_by_the_node_clock() {
    let app = spawn_app().await;
    let token = app.provider();
    app.clock.advance(time::Duration::hours(2));
    let answer = app
        .post("/api/v1/records", Some(&token), &record(ENTERPRISE, "E"))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "token_expired");
    // The same token is refused for reads too, rather than downgraded to the public view.
    let read = app
        .get(&format!("/api/v1/subjects/{ENTERPRISE}"), Some(&token))
        .await;
    assert_eq!(read.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forged_alg_none_and_malformed_tokens_are_refused() {
    let app = spawn_app().await;
    let other = spawn_app().await; // a node with a different development key
    let forged = other.provider();

    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(
        claims_json("445122", test_now().unix_timestamp() + 3600)
            .to_string()
            .as_bytes(),
    );
    let alg_none = format!("{header}.{payload}.");

    let genuine = app.provider();
    let (head, rest) = genuine.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let tampered_payload = URL_SAFE_NO_PAD.encode(
        claims_json("445122", test_now().unix_timestamp() + 999_999)
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{head}.{tampered_payload}.{signature}");

    let hs256_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let hs256 = format!("{hs256_header}.{payload}.c2lnbmF0dXJl");

    for (name, token) in [
        ("forged", forged.as_str()),
        ("alg none", alg_none.as_str()),
        ("tampered", tampered.as_str()),
        ("hs256", hs256.as_str()),
        ("garbage", "not.a.jwt"),
    ] {
        let answer = app
            .post("/api/v1/records", Some(token), &record(ENTERPRISE, "F"))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            answer.text
        );
        assert_eq!(answer.code(), "invalid_token", "{name}");
        assert!(
            !answer.text.contains(token),
            "{name}: the token is not echoed"
        );
    }

    let basic = into_answer(
        app.client
            .get(format!("{}/api/v1/subjects/{ENTERPRISE}", app.base_url))
            .header("authorization", "Basic dXNlcjpwYXNz")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic.code(), "malformed_authorization");
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
}

#[tokio::test]
async fn a_token_for_another_region_is_refused() {
    let app = spawn_app().await;
    let chaozhou = app.token_for_region(Role::Provider, Some(DEPT), "445100");
    let answer = app
        .post("/api/v1/records", Some(&chaozhou), &record(ENTERPRISE, "R"))
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "wrong_region");
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
}

#[tokio::test]
async fn a_provider_token_without_a_valid_department_is_refused() {
    let app = spawn_app().await;
    let no_dept = app.token(Role::Provider, None);
    let answer = app
        .post("/api/v1/records", Some(&no_dept), &record(ENTERPRISE, "N"))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "invalid_token");
}

#[tokio::test]
async fn a_department_of_another_region_cannot_write_here() {
    let app = spawn_app().await;
    // A valid USCC registered in 潮州市 (445100), presenting a token for this county node.
    let city_dept = "114451000070512302";
    let token = app.token(Role::Provider, Some(city_dept));
    let mut body = record(ENTERPRISE, "CITY-1");
    body["source_dept"] = serde_json::json!(city_dept);
    let answer = app.post("/api/v1/records", Some(&token), &body).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    assert_eq!(answer.code(), "dept_outside_region");
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
}
