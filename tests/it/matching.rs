//! The match API: verdicts, whole-request problems, the decision log and its receipts.

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::harness::*;

/// A second enterprise of 饶平县 (valid USCC), on the red list in these tests.
const RED: &str = "91445122MA4W12362M";
/// A third one, on the abnormal-operations list.
const ABNORMAL: &str = "91445122MA4W12370G";
/// A fourth one, on no list.
const UNLISTED: &str = "91445122MA4W12354T";

async fn issue(app: &TestApp, list: &str, subject: &str, name: &str, document_no: &str) -> String {
    let answer = app
        .post(
            &format!("/api/v1/lists/{list}/entries"),
            Some(&app.provider()),
            &json!({
                "subject_code": subject,
                "subject_name": name,
                "former_names": ["饶平县旧名建材有限公司"],
                "reason": "串通投标",
                "authority": "饶平县发展和改革局",
                "document_no": document_no,
                "legal_basis": "《招标投标法》第五十三条",
                "effective_from": "2026-01-01",
                "effective_to": "2028-12-31"
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["id"].as_str().unwrap().to_owned()
}

fn project(kind: &str, as_of: &str) -> Value {
    json!({"id": "GDZB-2026-0815", "name": "饶平县黄冈镇道路改造工程施工", "kind": kind,
           "region": "445122", "as_of": as_of})
}

async fn screen(app: &TestApp, key: &str, body: &Value) -> Answer {
    app.call_with_key(Method::POST, "/api/v1/match", key, Some(body))
        .await
}

/// Waits until the index answers `verdict` for the first bidder (index updates are
/// asynchronous).
async fn verdict_eventually(app: &TestApp, key: &str, body: &Value, verdict: &str) -> Answer {
    answer_eventually(
        app,
        key,
        body,
        &format!("first bidder {verdict}"),
        |answer| answer.body["bidders"][0]["verdict"] == verdict,
    )
    .await
}

/// Waits until the index has applied `issuer`'s changes up to `epoch`: a test that issued
/// several entries must not judge the answer of an index that holds only the first.
async fn epoch_eventually(
    app: &TestApp,
    key: &str,
    body: &Value,
    issuer: &str,
    epoch: i64,
) -> Answer {
    answer_eventually(
        app,
        key,
        body,
        &format!("epoch {issuer}:{epoch}"),
        |answer| {
            answer.body["lists"]["epochs"][issuer]
                .as_i64()
                .is_some_and(|held| held >= epoch)
        },
    )
    .await
}

async fn answer_eventually(
    app: &TestApp,
    key: &str,
    body: &Value,
    what: &str,
    done: impl Fn(&Answer) -> bool,
) -> Answer {
    for _ in 0..100 {
        let answer = screen(app, key, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        if done(&answer) {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never {what}: {}", screen(app, key, body).await.text);
}

#[tokio::test]
async fn bidders_are_blocked_reviewed_cleared_or_invalid() {
    let app = spawn_app().await;
    issue(
        &app,
        "serious_dishonesty",
        ENTERPRISE,
        "饶平县某某建筑工程有限公司",
        "饶发改〔2026〕1号",
    )
    .await;
    issue(
        &app,
        "red_list",
        RED,
        "饶平县诚信建设有限公司",
        "饶发改〔2026〕2号",
    )
    .await;
    issue(
        &app,
        "abnormal_operations",
        ABNORMAL,
        "饶平县异常贸易有限公司",
        "饶市监〔2026〕3号",
    )
    .await;
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;

    let body = json!({
        "project": project("bidding", "2026-06-20T09:30:00+08:00"),
        "bidders": [
            {"reference": "B0", "uscc": ENTERPRISE, "name": "饶平县某某建筑工程有限公司"},
            {"reference": "B1", "name": "某某建築工程有限公司"},
            {"reference": "B2", "name": "饶平县旧名建材有限公司"},
            {"reference": "B3", "uscc": RED},
            {"reference": "B4", "uscc": ABNORMAL},
            {"reference": "B5", "uscc": "91445122MA4W123461"},
            {"reference": "B6", "uscc": "９１４４５１２２ＭＡ４Ｗ１２３４６０"},
            {"reference": "B7"},
            {"reference": "B8", "name": "某"},
            {"reference": "B9", "uscc": UNLISTED, "name": "饶平县清白工程有限公司",
             "legal_representative": {"name": "李四", "id_number": "445122198503121232"}},
            {"reference": "B10", "uscc": UNLISTED}
        ]
    });
    // All three entries (epoch 3), not just the first: the index follows asynchronously.
    let answer = epoch_eventually(&app, &key, &body, "445122", 3).await;
    let verdicts: Vec<&str> = answer.body["bidders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        [
            "block", "review", "review", "clear", "review", "invalid", "invalid", "invalid",
            "invalid", "invalid", "clear"
        ],
        "{}",
        answer.text
    );
    let bidders = &answer.body["bidders"];
    let hit = &bidders[0]["hits"][0];
    assert_eq!(hit["list"], "serious_dishonesty");
    assert_eq!(hit["matched_on"], "uscc");
    assert_eq!(hit["document_no"], "饶发改〔2026〕1号");
    assert_eq!(hit["authority"], "饶平县发展和改革局");
    assert_eq!(hit["effective_to"], "2028-12-31");
    assert_eq!(hit["effect"], "block");
    assert_eq!(
        bidders[1]["hits"][0]["matched_on"], "name",
        "traditional characters, no region"
    );
    assert_eq!(bidders[1]["hits"][0]["effect"], "review");
    assert_eq!(bidders[2]["hits"][0]["matched_on"], "former_name");
    assert_eq!(bidders[3]["incentives"][0]["measures"][0], "deposit_waiver");
    assert_eq!(bidders[5]["problems"][0]["field"], "uscc");
    assert_eq!(
        bidders[6]["problems"][0]["code"], "duplicate_bidder",
        "full-width input is the same bidder as B0"
    );
    assert_eq!(bidders[7]["problems"][0]["code"], "empty_bidder");
    assert_eq!(bidders[8]["problems"][0]["code"], "name_length");
    assert_eq!(
        bidders[9]["problems"][0]["field"],
        "legal_representative.id_number"
    );
    assert_eq!(answer.body["summary"]["block"], 1);
    assert_eq!(answer.body["summary"]["invalid"], 5);
    assert_eq!(answer.body["lists"]["epochs"]["445122"], 3);
    assert_eq!(answer.body["lists"]["stale"], false);
    assert!(
        !answer.text.contains("445122198503121232"),
        "no personal ID echoed in problems"
    );

    // Serious dishonesty restricts procurement too (its default measures).
    let procurement = json!({"project": project("procurement", "2026-06-20"),
                             "bidders": [{"uscc": ENTERPRISE}]});
    assert_eq!(
        screen(&app, &key, &procurement).await.body["bidders"][0]["verdict"],
        "block"
    );
    // Before the entry took effect and after it ended it does not block; near either end
    // it asks for review.
    for (as_of, verdict) in [
        ("2025-06-01", "clear"),
        ("2025-12-28", "review"),
        ("2027-06-01", "block"),
        ("2029-01-03", "review"),
        ("2029-02-01", "clear"),
    ] {
        let body = json!({"project": project("bidding", as_of), "bidders": [{"uscc": ENTERPRISE}]});
        let answer = screen(&app, &key, &body).await;
        assert_eq!(
            answer.body["bidders"][0]["verdict"], verdict,
            "as_of {as_of}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn unusable_requests_and_callers_are_refused() {
    let app = spawn_app().await;
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    let (_, unscoped) = app
        .issue_key(&["records:read:public"], 100, 100, 10_000)
        .await;
    let one = json!([{"uscc": ENTERPRISE}]);
    let too_many: Vec<Value> = (0..1_001)
        .map(|i| json!({"name": format!("某某公司{i}")}))
        .collect();
    for (body, code) in [
        (json!({"bidders": one}), "project_required"),
        (
            json!({"project": project("lottery", "2026-06-20"), "bidders": one}),
            "unknown_project_kind",
        ),
        (
            json!({"project": project("bidding", "next tuesday"), "bidders": one}),
            "invalid_as_of",
        ),
        (
            json!({"project": project("bidding", "2026-06-20"), "bidders": []}),
            "bidders_required",
        ),
        (
            json!({"project": project("bidding", "2026-06-20"), "bidders": too_many}),
            "too_many_bidders",
        ),
    ] {
        let answer = screen(&app, &key, &body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{code}: {}",
            answer.text
        );
        assert_eq!(answer.code(), code);
    }
    let body = json!({"project": project("bidding", "2026-06-20"), "bidders": one});
    let anonymous = app.post("/api/v1/match", None, &body).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let refused = screen(&app, &unscoped, &body).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "missing_scope");
    let provider = app
        .post("/api/v1/match", Some(&app.provider()), &body)
        .await;
    assert_eq!(provider.status, StatusCode::FORBIDDEN);
    let malformed = app
        .call_with_key(
            Method::POST,
            "/api/v1/match",
            &key,
            Some(&json!({"project": 5})),
        )
        .await;
    assert!(malformed.status.is_client_error(), "{}", malformed.text);
    malformed.code();
    // Nothing was logged for refused requests.
    assert!(
        app.state
            .store
            .find_decisions(&Default::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn issuing_and_ending_an_entry_change_the_verdict_at_once_without_a_restart() {
    let app = spawn_app().await;
    let id = issue(
        &app,
        "serious_dishonesty",
        ENTERPRISE,
        "饶平县某某建筑工程有限公司",
        "饶发改〔2026〕9号",
    )
    .await;
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    let body =
        json!({"project": project("bidding", "2026-07-10"), "bidders": [{"uscc": ENTERPRISE}]});
    // Read-your-writes on the issuing node: once the write is answered, screening sees it,
    // with no wait.
    let blocked = screen(&app, &key, &body).await;
    assert_eq!(
        blocked.body["bidders"][0]["verdict"], "block",
        "{}",
        blocked.text
    );
    let ended = app
        .post(
            &format!("/api/v1/lists/serious_dishonesty/entries/{id}/end"),
            Some(&app.provider()),
            &json!({"reason": "信用修复申请经审核通过"}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    let cleared = screen(&app, &key, &body).await;
    assert_eq!(
        cleared.body["bidders"][0]["verdict"], "clear",
        "{}",
        cleared.text
    );
    assert_eq!(cleared.body["lists"]["epochs"]["445122"], 2);
}

#[tokio::test]
async fn decisions_are_logged_chained_and_a_tampered_row_is_detected() {
    let app = spawn_app().await;
    issue(
        &app,
        "serious_dishonesty",
        ENTERPRISE,
        "饶平县某某建筑工程有限公司",
        "饶发改〔2026〕5号",
    )
    .await;
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    let (_, other_key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    let body =
        json!({"project": project("bidding", "2026-06-20"), "bidders": [{"uscc": ENTERPRISE}]});
    let first = verdict_eventually(&app, &key, &body, "block").await;
    let second = screen(
        &app,
        &key,
        &json!({"project": project("bidding", "2026-06-20"),
                                           "bidders": [{"uscc": UNLISTED}]}),
    )
    .await;
    let third = screen(&app, &other_key, &body).await;
    let r1 = &first.body["receipt"];
    let r2 = &second.body["receipt"];
    assert_eq!(r2["seq"].as_i64().unwrap(), r1["seq"].as_i64().unwrap() + 1);
    assert_eq!(r2["prev_hash"], r1["hash"], "receipts chain");
    assert_ne!(r1["request_hash"], r2["request_hash"]);

    // Supervisors query the log; a platform sees only its own decisions.
    let blocks = app
        .get(
            "/api/v1/matches?verdict=block&project=GDZB-2026-0815",
            Some(&app.supervisor()),
        )
        .await;
    assert_eq!(blocks.status, StatusCode::OK, "{}", blocks.text);
    let ids: Vec<&str> = blocks.body["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["match_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&first.body["match_id"].as_str().unwrap()));
    assert!(ids.contains(&third.body["match_id"].as_str().unwrap()));
    assert!(!ids.contains(&second.body["match_id"].as_str().unwrap()));
    let own = app
        .call_with_key(Method::GET, "/api/v1/matches", &other_key, None)
        .await;
    assert_eq!(own.body["decisions"].as_array().unwrap().len(), 1);
    let foreign = app
        .call_with_key(
            Method::GET,
            &format!(
                "/api/v1/matches/{}",
                first.body["match_id"].as_str().unwrap()
            ),
            &other_key,
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let one = app
        .get(
            &format!(
                "/api/v1/matches/{}",
                first.body["match_id"].as_str().unwrap()
            ),
            Some(&app.supervisor()),
        )
        .await;
    assert_eq!(one.body["receipt"]["hash"], r1["hash"]);
    assert_eq!(one.body["bidders"][0]["verdict"], "block");
    let bad = app
        .get("/api/v1/matches?verdict=maybe", Some(&app.supervisor()))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let report = integrity_exchange::matching::receipt::verify_chain(&app.state.store)
        .await
        .unwrap();
    assert_eq!(report.verified, 3);
    assert!(report.broken.is_none(), "{report:?}");

    // Rewrite the second decision's verdict: detected at that decision.
    let db = Database::connect(app.settings.database_url().as_str())
        .await
        .unwrap();
    db.execute_unprepared(
        "UPDATE match_decisions SET decision = replace(decision, '\"clear\"', '\"block\"') WHERE seq = 2",
    )
    .await
    .unwrap();
    let report = integrity_exchange::matching::receipt::verify_chain(&app.state.store)
        .await
        .unwrap();
    assert_eq!(report.verified, 1);
    assert_eq!(report.broken.as_ref().map(|b| b.0), Some(2), "{report:?}");
}

/// A restarted node builds its index from the database (`Store::index_pages`: on SQLite through
/// the covering index, a JSON page at a time; on PostgreSQL one streamed scan) and answers as
/// the running node did: the entry's identifier, its name, its former name, a warning list,
/// and a clear bidder.
#[tokio::test]
async fn a_restarted_node_builds_its_index_from_the_database() {
    let app = spawn_app().await;
    issue(
        &app,
        "serious_dishonesty",
        ENTERPRISE,
        "饶平县某某建筑工程有限公司",
        "饶发改〔2026〕7号",
    )
    .await;
    issue(
        &app,
        "abnormal_operations",
        ABNORMAL,
        "饶平县宏昌市政工程有限公司",
        "饶市监〔2026〕8号",
    )
    .await;
    let (settings, data_dir, clock) = app.stop().await;
    let app = start(settings, data_dir, clock).await;
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    let answer = screen(
        &app,
        &key,
        &json!({"project": project("bidding", "2026-06-20"), "bidders": [
            {"uscc": ENTERPRISE},
            {"name": "饶平县某某建筑工程有限公司"},
            {"name": "饶平县旧名建材有限公司"},
            {"uscc": ABNORMAL},
            {"uscc": UNLISTED, "name": "饶平县宏达市政工程有限公司"},
        ]}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let verdicts: Vec<&str> = answer.body["bidders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["block", "review", "review", "review", "clear"],
        "{}",
        answer.text
    );
    let matched: Vec<&str> = answer.body["bidders"][2]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["matched_on"].as_str().unwrap())
        .collect();
    // Both entries carry the former name `issue` gives every entry.
    assert_eq!(matched, ["former_name", "former_name"], "{}", answer.text);
    // `宏达市政工程` does not meet `宏昌市政工程`: before the `市政` guard both names had the
    // key `政工程`, and the bidder had a notice hit.
    assert!(
        answer.body["bidders"][4]["hits"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// A request whose hits name many entries (they are read from the database in two halves at
/// once, `Store::list_entries_by_ids`): every bidder gets its own entry's details, none lost
/// or swapped.
#[tokio::test]
async fn a_batch_with_many_hits_gets_every_entry_behind_them() {
    use integrity_exchange::domain::uscc::{compute_check_character, compute_organization_check};
    let app = spawn_app().await;
    const N: usize = 24;
    let mut codes = Vec::new();
    for i in 0..N {
        let body = format!("MA5X{i:04}");
        let first_17 = format!(
            "91445122{body}{}",
            compute_organization_check(&body).unwrap()
        );
        let code = format!("{first_17}{}", compute_check_character(&first_17).unwrap());
        issue(
            &app,
            "serious_dishonesty",
            &code,
            &format!("饶平县第{i}建筑工程有限公司"),
            &format!("饶发改〔2026〕{}号", 100 + i),
        )
        .await;
        codes.push(code);
    }
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    let mut bidders: Vec<Value> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| json!({"reference": format!("B{i}"), "uscc": code}))
        .collect();
    // The last issued first, so an index update still on its way shows as a wait, not a pass.
    bidders.reverse();
    let body =
        json!({"project": project("bidding", "2026-06-20T09:30:00+08:00"), "bidders": bidders});
    let answer = verdict_eventually(&app, &key, &body, "block").await;
    let answered = answer.body["bidders"].as_array().unwrap();
    assert_eq!(answered.len(), N);
    for (position, bidder) in answered.iter().enumerate() {
        let i = N - 1 - position;
        assert_eq!(bidder["verdict"], "block", "{bidder}");
        assert_eq!(bidder["reference"], format!("B{i}"));
        let documents: Vec<&str> = bidder["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hit| hit["document_no"].as_str().unwrap())
            .collect();
        assert_eq!(
            documents,
            [format!("饶发改〔2026〕{}号", 100 + i)],
            "{bidder}"
        );
    }
}

/// The build's read (`Store::index_pages`: keyset pages of the covering index on SQLite, one
/// streamed sequential scan on PostgreSQL) hands over every entry exactly once, in pages of
/// at most the size asked for and no empty page, also when an entry has been ended (a newer
/// version of the same row) and when the count is a multiple of the page size.
#[tokio::test]
async fn the_index_build_reads_every_entry_once_in_bounded_pages() {
    use integrity_exchange::domain::uscc::{compute_check_character, compute_organization_check};
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let body = format!("MA6Y{i:04}");
        let first_17 = format!(
            "91445122{body}{}",
            compute_organization_check(&body).unwrap()
        );
        let code = format!("{first_17}{}", compute_check_character(&first_17).unwrap());
        ids.push(
            issue(
                &app,
                "serious_dishonesty",
                &code,
                &format!("饶平县第{i}市政工程有限公司"),
                &format!("饶发改〔2026〕{}号", 300 + i),
            )
            .await,
        );
    }
    let ended = app
        .post(
            &format!("/api/v1/lists/serious_dishonesty/entries/{}/end", ids[0]),
            Some(&app.provider()),
            &json!({"reason": "已履行生效法律文书确定的义务"}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    for (page_size, pages_expected) in [(2, 3), (4, 2), (6, 1), (100, 1)] {
        let mut pages = app.state.store.index_pages(page_size);
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        while let Some(page) = pages.recv().await {
            let page = page.unwrap();
            sizes.push(page.len());
            seen.extend(
                page.into_iter()
                    .map(|entry| (entry.id.to_string(), entry.version)),
            );
        }
        assert_eq!(
            sizes.len(),
            pages_expected,
            "page size {page_size}: {sizes:?}"
        );
        assert!(
            sizes.iter().all(|&n| (1..=page_size).contains(&n)),
            "{sizes:?}"
        );
        seen.sort();
        let mut expected: Vec<(String, i32)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), if i == 0 { 2 } else { 1 }))
            .collect();
        expected.sort();
        assert_eq!(seen, expected, "page size {page_size}");
    }
}
