//! Lists: issued, read (personal IDs masked for the public), ended, and replicated down a
//! four-level federation of real nodes over mutual TLS.

use std::time::Duration;

use integrity_exchange::auth::Role;
use integrity_exchange::domain::region::RegionCode;
use integrity_exchange::federation::wire::ListChangesPage;
use integrity_exchange::store::federation::ApplyError;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::federation::Federation;
use crate::harness::*;

/// A department of the national level (valid USCC, registered at 100000).
const NATIONAL_DEPT: &str = "11100000000013127D";
/// A department of Guangdong province.
const PROVINCE_DEPT: &str = "11440000006644704U";

fn entry(subject: &str, document_no: &str) -> Value {
    json!({
        "subject_code": subject,
        "subject_name": "饶平县某某建筑工程有限公司",
        "former_names": ["饶平县某某建材有限公司"],
        "reason": "在政府投资项目招标中串通投标，情节严重",
        "authority": "饶平县发展和改革局",
        "document_no": document_no,
        "legal_basis": "《招标投标法》第五十三条",
        "effective_from": "2026-01-01",
        "effective_to": "2028-12-31"
    })
}

#[tokio::test]
async fn entries_are_issued_read_masked_and_ended() {
    let app = spawn_app().await;
    let catalogue = app.get("/api/v1/lists", None).await;
    assert_eq!(catalogue.status, StatusCode::OK, "{}", catalogue.text);
    let codes: Vec<&str> = catalogue.body["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|list| list["code"].as_str().unwrap())
        .collect();
    for code in [
        "serious_dishonesty",
        "judgment_defaulters",
        "procurement_serious_violations",
        "abnormal_operations",
        "red_list",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }

    // Who may issue.
    let path = "/api/v1/lists/judgment_defaulters/entries";
    let mut body = entry(CITIZEN, "（2026）粤5122执123号");
    body["legal_representative"] = json!({"name": "张三", "id_number": CITIZEN});
    let anonymous = app.post(path, None, &body).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.code(), "authentication_required");
    let supervisor = app.post(path, Some(&app.supervisor()), &body).await;
    assert_eq!(supervisor.status, StatusCode::FORBIDDEN);
    assert_eq!(supervisor.code(), "role_not_allowed");
    let unknown = app
        .post(
            "/api/v1/lists/no_such_list/entries",
            Some(&app.provider()),
            &body,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "unknown_list");

    // Every invalid field at once, nothing written.
    let invalid = app
        .post(
            path,
            Some(&app.provider()),
            &json!({"subject_code": "445122198503121232", "subject_name": "", "measures": ["jail"],
                    "effective_from": "2026-13-01", "record_ids": ["not-a-uuid"]}),
        )
        .await;
    assert_eq!(
        invalid.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        invalid.text
    );
    assert_eq!(invalid.code(), "validation_failed");
    let codes = invalid.item_codes();
    for code in [
        "citizen_id_check_digit",
        "missing_field",
        "unknown_measure",
        "invalid_date",
        "invalid_record_id",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} in {codes:?}");
    }
    let missing_record = app
        .post(path, Some(&app.provider()), &{
            let mut b = body.clone();
            b["record_ids"] = json!([uuid::Uuid::now_v7()]);
            b
        })
        .await;
    assert_eq!(missing_record.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing_record.item_codes(), vec!["record_not_found"]);

    // Issue, linked to a record held here; a replay returns the same entry.
    let record = app
        .create_record(&record(CITIZEN, "JD-1"), StatusCode::CREATED)
        .await;
    body["record_ids"] = json!([record.body["id"]]);
    let issued = app.post(path, Some(&app.provider()), &body).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let id = issued.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        issued.headers["location"].to_str().unwrap(),
        format!("{path}/{id}")
    );
    assert_eq!(issued.body["authority_code"], DEPT);
    assert_eq!(issued.body["in_force"], true);
    assert_eq!(
        issued.body["measures"][0]["code"], "restrict_bidding",
        "the list's default measures"
    );
    let replay = app.post(path, Some(&app.provider()), &body).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body["id"], id.as_str());

    // The public sees the entry with personal IDs masked; staff see them whole.
    let public = app.get(&format!("{path}/{id}"), None).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text);
    let masked = public.body["subject_code"].as_str().unwrap();
    assert!(masked.contains("********") && !public.text.contains(CITIZEN));
    assert!(
        public.body["legal_representative"]["id_number"]
            .as_str()
            .unwrap()
            .contains("********")
    );
    let staff = app
        .get(&format!("{path}/{id}"), Some(&app.supervisor()))
        .await;
    assert_eq!(staff.body["subject_code"], CITIZEN);
    let issuer = app
        .get(&format!("{path}/{id}"), Some(&app.provider()))
        .await;
    assert_eq!(
        issuer.body["subject_code"], CITIZEN,
        "the issuing authority"
    );
    let other_dept = app
        .get(
            &format!("{path}/{id}"),
            Some(&app.token(Role::Provider, Some(OTHER_DEPT))),
        )
        .await;
    assert!(
        !other_dept.text.contains(CITIZEN),
        "another department sees IDs masked"
    );
    let by_subject = app
        .get(
            &format!("{path}?subject={CITIZEN}"),
            Some(&app.supervisor()),
        )
        .await;
    assert_eq!(by_subject.body["entries"].as_array().unwrap().len(), 1);

    let lists = app.get("/api/v1/lists", None).await;
    let defaulters = lists.body["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == "judgment_defaulters")
        .unwrap()
        .clone();
    assert_eq!(defaulters["active"], 1);
    assert_eq!(defaulters["stale"], false);
    assert_eq!(defaulters["epochs"][0]["issuer"], "445122");
    assert_eq!(defaulters["epochs"][0]["epoch"], 1);

    // Only the issuing authority ends it; once.
    let end = json!({"reason": "已履行生效法律文书确定的义务"});
    let other = app
        .post(
            &format!("{path}/{id}/end"),
            Some(&app.token(Role::Provider, Some(OTHER_DEPT))),
            &end,
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.code(), "other_authority");
    let no_reason = app
        .post(
            &format!("{path}/{id}/end"),
            Some(&app.provider()),
            &json!({}),
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ended = app
        .post(&format!("{path}/{id}/end"), Some(&app.provider()), &end)
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    assert_eq!(ended.body["status"], "ended");
    assert_eq!(ended.body["version"], 2);
    assert_eq!(
        ended.body["effective_to"], "2026-06-14",
        "by default the last day is yesterday (Asia/Shanghai)"
    );
    assert_eq!(ended.body["in_force"], false);
    let again = app
        .post(&format!("{path}/{id}/end"), Some(&app.provider()), &end)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "entry_not_active");

    let audited: Vec<String> = app
        .state
        .store
        .recent_audit(50)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.entry.action)
        .collect();
    for action in ["lists.issue", "lists.end", "lists.read"] {
        assert!(audited.iter().any(|a| a == action), "{action} audited");
    }
}

#[tokio::test]
async fn entries_page_with_a_cursor() {
    let app = spawn_app().await;
    let path = "/api/v1/lists/serious_dishonesty/entries";
    for i in 0..5 {
        let issued = app
            .post(
                path,
                Some(&app.provider()),
                &entry(ENTERPRISE, &format!("饶发改〔2026〕{i}号")),
            )
            .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    }
    let mut seen = Vec::new();
    let mut next = format!("{path}?limit=2");
    loop {
        let page = app.get(&next, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for entry in page.body["entries"].as_array().unwrap() {
            seen.push(entry["document_no"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..5).map(|i| format!("饶发改〔2026〕{i}号")).collect();
    assert_eq!(seen, expected, "every entry once, in issue order");
    for bad in [
        "?limit=0",
        "?cursor=xyz",
        "?status=gone",
        "?subject=123",
        "?x=1",
    ] {
        let answer = app.get(&format!("{path}{bad}"), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        answer.code();
    }
}

async fn entries_at(app: &TestApp, list: &str, subject: &str) -> Vec<Value> {
    let answer = app
        .get(
            &format!("/api/v1/lists/{list}/entries?subject={subject}"),
            Some(&app.supervisor()),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["entries"].as_array().unwrap().clone()
}

/// Waits until `app` holds entries of `subject` on `list` for which `done` holds.
async fn wait_for_entries(
    app: &TestApp,
    list: &str,
    subject: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..200 {
        let entries = entries_at(app, list, subject).await;
        if done(&entries) {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} never reached the expected entries: {:?}",
        app.state.region,
        entries_at(app, list, subject).await
    );
}

#[tokio::test]
async fn lists_issued_above_reach_the_county_and_their_end_follows() {
    let federation = Federation::new();
    let national = federation.spawn("100000", None, 0).await;
    let province = federation
        .spawn("440000", Some(&national.base_url), 0)
        .await;
    let city = federation
        .spawn("445100", Some(&province.base_url), 0)
        .await;
    let county = federation.spawn("445122", Some(&city.base_url), 0).await;

    let path = "/api/v1/lists/serious_dishonesty/entries";
    let mut national_entry = entry(ENTERPRISE, "发改财金〔2026〕1号");
    national_entry["authority"] = json!("国家发展和改革委员会");
    let issued = national
        .post(
            path,
            Some(&national.token(Role::Provider, Some(NATIONAL_DEPT))),
            &national_entry,
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let national_id = issued.body["id"].as_str().unwrap().to_owned();
    let mut province_entry = entry(ENTERPRISE, "粤发改信用〔2026〕7号");
    province_entry["authority"] = json!("广东省发展和改革委员会");
    let issued = province
        .post(
            path,
            Some(&province.token(Role::Provider, Some(PROVINCE_DEPT))),
            &province_entry,
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);

    let at_county =
        wait_for_entries(&county, "serious_dishonesty", ENTERPRISE, |e| e.len() == 2).await;
    let issuers: Vec<&str> = at_county
        .iter()
        .map(|e| e["issuer_region"].as_str().unwrap())
        .collect();
    assert!(issuers.contains(&"100000") && issuers.contains(&"440000"));
    // The province never receives its own entry back, and the national node nothing from below.
    assert_eq!(
        entries_at(&national, "serious_dishonesty", ENTERPRISE)
            .await
            .len(),
        1
    );

    let lists = county.get("/api/v1/lists", None).await;
    let serious = lists.body["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == "serious_dishonesty")
        .unwrap()
        .clone();
    assert_eq!(serious["active"], 2, "{serious}");
    assert_eq!(serious["stale"], false, "{serious}");
    let national_epoch = serious["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["issuer"] == "100000")
        .unwrap();
    assert_eq!(national_epoch["epoch"], 1);
    assert_eq!(national_epoch["parent_held"], 1);

    // A county bidding platform is screened against the national list.
    let (_, key) = county.issue_key(&["match"], 100, 100, 10_000).await;
    let screening = json!({
        "project": {"id": "RP-ZB-2026-001", "name": "饶平县某道路工程", "kind": "bidding", "as_of": "2026-07-01"},
        "bidders": [{"uscc": ENTERPRISE}]
    });
    let mut blocked = None;
    for _ in 0..100 {
        let answer = county
            .call_with_key(
                reqwest::Method::POST,
                "/api/v1/match",
                &key,
                Some(&screening),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        if answer.body["bidders"][0]["verdict"] == "block" {
            blocked = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let blocked = blocked.expect("the national entry blocks at the county");
    let issuers: Vec<&str> = blocked.body["bidders"][0]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["issuer_region"].as_str().unwrap())
        .collect();
    assert!(issuers.contains(&"100000"), "{}", blocked.text);
    assert_eq!(blocked.body["lists"]["epochs"]["100000"], 1);

    // Only the issuing node changes an entry.
    let at_county_end = county
        .post(
            &format!("{path}/{national_id}/end"),
            Some(&county.provider()),
            &json!({"reason": "县级无权移出"}),
        )
        .await;
    assert_eq!(at_county_end.status, StatusCode::FORBIDDEN);
    assert_eq!(at_county_end.code(), "entry_issued_elsewhere");

    let ended = national
        .post(
            &format!("{path}/{national_id}/end"),
            Some(&national.token(Role::Provider, Some(NATIONAL_DEPT))),
            &json!({"reason": "信用修复申请经审核通过", "last_day": "2026-06-14"}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    let at_county = wait_for_entries(&county, "serious_dishonesty", ENTERPRISE, |e| {
        e.iter()
            .any(|e| e["id"] == national_id.as_str() && e["status"] == "ended")
    })
    .await;
    let ended_here = at_county
        .iter()
        .find(|e| e["id"] == national_id.as_str())
        .unwrap();
    assert_eq!(ended_here["version"], 2);
    assert_eq!(ended_here["in_force"], false);
    let status = county
        .get("/api/v1/federation/status", Some(&county.supervisor()))
        .await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text);
    let issuers = status.body["lists"]["issuers"].as_array().unwrap();
    let from_national = issuers.iter().find(|i| i["issuer"] == "100000").unwrap();
    assert_eq!(from_national["held"], 2, "the issuance and the end");
    assert_eq!(from_national["stale"], false);
    assert_eq!(status.body["lists"]["consecutive_failures"], 0);

    // A node that is not a child may not pull.
    let stranger = federation
        .client("445122")
        .get(format!("{}/federation/v1/lists/changes", national.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::FORBIDDEN);

    // Pages that do not verify are refused whole, whatever was changed.
    let page: ListChangesPage = federation
        .client("445122")
        .get(format!(
            "{}/federation/v1/lists/changes?after=100000:0,440000:0",
            city.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page.changes.len(), 3, "two issuances and one end");
    let me = RegionCode::parse("445122").unwrap();
    let parent = RegionCode::parse("445100").unwrap();
    let apply = |changes| {
        let store = county.state.store.clone();
        let heads = page.heads.clone();
        async move {
            store
                .apply_list_changes(me, parent, &heads, changes, test_now(), audit_entry())
                .await
        }
    };
    let mut tampered = page.changes.clone();
    tampered[0].payload = tampered[0].payload.replace("串通投标", "无");
    assert!(matches!(
        apply(tampered).await,
        Err(ApplyError::BadSignature { .. })
    ));
    let mut foreign = page.changes.clone();
    foreign[0].issuer = "445200".into();
    assert!(matches!(
        apply(foreign).await,
        Err(ApplyError::OutOfScope { .. })
    ));
    // Replaying the whole page changes nothing; a page that skips a change is refused.
    assert_eq!(apply(page.changes.clone()).await.unwrap(), 0);
    let mut skipping = page.changes.clone();
    for change in &mut skipping {
        change.seq += 5;
    }
    assert!(apply(skipping).await.is_err());
    assert_eq!(
        entries_at(&county, "serious_dishonesty", ENTERPRISE)
            .await
            .len(),
        2
    );
}

fn audit_entry() -> integrity_exchange::audit::AuditEntry {
    integrity_exchange::audit::AuditEntry {
        actor_kind: "peer".into(),
        actor_id: "region:445100".into(),
        action: "lists.replicate".into(),
        resource: "lists".into(),
        outcome: "ok".into(),
        request_id: String::new(),
        detail: String::new(),
    }
}

/// The entries of the national issuer at `app`, by id: (status, version).
async fn national_entries(app: &TestApp) -> std::collections::BTreeMap<String, (String, i64)> {
    entries_at(app, "serious_dishonesty", ENTERPRISE)
        .await
        .into_iter()
        .filter(|e| e["issuer_region"] == "100000")
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                (
                    e["status"].as_str().unwrap().to_owned(),
                    e["version"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Waits until `app` holds the national issuer at `epoch`; returns its status line.
async fn wait_for_epoch(app: &TestApp, epoch: i64) -> Value {
    for _ in 0..200 {
        let status = app
            .get("/api/v1/federation/status", Some(&app.supervisor()))
            .await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.text);
        if let Some(line) = status.body["lists"]["issuers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["issuer"] == "100000" && i["held"] == epoch)
        {
            return line.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never held 100000 at epoch {epoch}", app.state.region);
}

/// Changes of the national issuer held at `app` (its downward journal).
async fn national_changes_held(app: &TestApp) -> usize {
    let (_, changes) = app
        .state
        .store
        .list_changes_after(&Default::default(), 1_000)
        .await
        .unwrap();
    changes.iter().filter(|c| c.issuer == "100000").count()
}

#[tokio::test]
async fn a_child_that_joins_late_takes_a_snapshot_then_follows_the_changes() {
    let federation = Federation::new();
    let national = federation
        .spawn_with("100000", None, 0, |s| {
            s.federation.list_snapshot_min_changes = 10;
        })
        .await;
    let path = "/api/v1/lists/serious_dishonesty/entries";
    let issuer_token = national.token(Role::Provider, Some(NATIONAL_DEPT));
    let mut ids = Vec::new();
    for i in 0..12 {
        let mut body = entry(ENTERPRISE, &format!("发改财金〔2026〕{}号", 100 + i));
        body["authority"] = json!("国家发展和改革委员会");
        let issued = national.post(path, Some(&issuer_token), &body).await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
        ids.push(issued.body["id"].as_str().unwrap().to_owned());
    }
    for (i, id) in ids.iter().enumerate().take(8) {
        let body = if i < 6 {
            json!({"reason": "信用修复申请经审核通过"})
        } else {
            json!({"reason": "误列，予以撤销", "withdrawn": true})
        };
        let ended = national
            .post(&format!("{path}/{id}/end"), Some(&issuer_token), &body)
            .await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    }
    // 20 changes for 12 entries: a province joining now gets the 12 entries at epoch 20.
    let expected = national_entries(&national).await;
    assert_eq!(expected.len(), 12);
    let province = federation
        .spawn("440000", Some(&national.base_url), 0)
        .await;
    let line = wait_for_epoch(&province, 20).await;
    assert_eq!(line["snapshot_epoch"], 20, "taken as a snapshot: {line}");
    assert_eq!(line["stale"], false);
    assert_eq!(national_entries(&province).await, expected);
    assert_eq!(
        national_changes_held(&province).await,
        12,
        "one signed change per entry, not the 20 of the history"
    );
    let served: Vec<String> = national
        .state
        .store
        .recent_audit(100)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.entry.action)
        .collect();
    assert!(served.iter().any(|a| a == "lists.snapshot"), "{served:?}");

    // Then the changes after the epoch arrive as changes.
    let mut body = entry(ENTERPRISE, "发改财金〔2026〕200号");
    body["authority"] = json!("国家发展和改革委员会");
    let issued = national.post(path, Some(&issuer_token), &body).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let ended = national
        .post(
            &format!("{path}/{}/end", ids[10]),
            Some(&issuer_token),
            &json!({"reason": "期满移出"}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    let line = wait_for_epoch(&province, 22).await;
    assert_eq!(line["snapshot_epoch"], 20);
    let expected = national_entries(&national).await;
    assert_eq!(expected.len(), 13);
    assert_eq!(national_entries(&province).await, expected);
    assert_eq!(national_changes_held(&province).await, 14);

    // The province holds no changes before epoch 20: a child that cannot take snapshots is
    // told so, and one that can is sent a snapshot whatever the threshold.
    let raw = into_answer(
        federation
            .client("445100")
            .get(format!(
                "{}/federation/v1/lists/changes?after=100000:0",
                province.base_url
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(raw.status, StatusCode::CONFLICT, "{}", raw.text);
    assert_eq!(raw.code(), "snapshot_required");
    for epoch in [5, 99] {
        let gone = into_answer(
            federation
                .client("445100")
                .get(format!(
                    "{}/federation/v1/lists/snapshot?issuer=100000&epoch={epoch}",
                    province.base_url
                ))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(gone.status, StatusCode::CONFLICT, "{}", gone.text);
        assert_eq!(gone.code(), "snapshot_epoch_unavailable");
    }
    // A snapshot page that does not verify, or comes out of order, is refused before anything
    // is staged; a snapshot without its own epoch's change is never swapped in.
    let page: integrity_exchange::federation::wire::ListSnapshotPage = federation
        .client("445100")
        .get(format!(
            "{}/federation/v1/lists/snapshot?issuer=100000&epoch=22",
            province.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 13);
    assert!(page.next_after.is_none());
    let bystander = federation.spawn("445122", None, 0).await;
    let me = RegionCode::parse("445122").unwrap();
    let parent = RegionCode::parse("445100").unwrap();
    let mut tampered = page.clone();
    tampered.entries[3].payload = tampered.entries[3].payload.replace("串通投标", "无");
    assert!(matches!(
        bystander
            .state
            .store
            .stage_snapshot_page(me, parent, &tampered, None)
            .await,
        Err(ApplyError::BadSignature { .. })
    ));
    let mut shuffled = page.clone();
    shuffled.entries.swap(0, 1);
    assert!(matches!(
        bystander
            .state
            .store
            .stage_snapshot_page(me, parent, &shuffled, None)
            .await,
        Err(ApplyError::Malformed { .. })
    ));
    let mut partial = page.clone();
    partial.entries.retain(|change| change.seq != 22);
    bystander
        .state
        .store
        .stage_snapshot_page(me, parent, &partial, None)
        .await
        .unwrap();
    assert!(matches!(
        bystander
            .state
            .store
            .swap_snapshot("100000", 22, 22, test_now(), audit_entry())
            .await,
        Err(ApplyError::Malformed { .. })
    ));
    assert!(
        national_entries(&bystander).await.is_empty(),
        "nothing swapped in"
    );

    let city = federation
        .spawn("445100", Some(&province.base_url), 0)
        .await;
    let line = wait_for_epoch(&city, 22).await;
    assert_eq!(line["snapshot_epoch"], 22, "{line}");
    assert_eq!(national_entries(&city).await, expected);

    // The city's match index follows the snapshot: an active national entry blocks there.
    let (_, key) = city.issue_key(&["match"], 100, 100, 10_000).await;
    let screening = json!({
        "project": {"id": "CZ-ZB-2026-009", "name": "潮州市某工程", "kind": "bidding", "as_of": "2026-07-01"},
        "bidders": [{"uscc": ENTERPRISE}]
    });
    let mut verdict = Value::Null;
    for _ in 0..100 {
        let answer = city
            .call_with_key(
                reqwest::Method::POST,
                "/api/v1/match",
                &key,
                Some(&screening),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        verdict = answer.body["bidders"][0]["verdict"].clone();
        if verdict == "block" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(verdict, "block");
}
