//! What the CRMs refuse: a 429 is retried exactly after its Retry-After (on the manual
//! clock); an expired Salesforce token is refreshed and the call made again; a field error
//! fails that write-back with Salesforce's message, listed and counted, never retried.

use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};

use super::{crm_app, crm_lead, writer, writes_to, MockCrm, Scripted};

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let w = writer(&app, &mock);
    app.ingest(&crm_lead("hubspot", "401", Some("rep-1"))).await;
    mock.script(Scripted::RateLimited { retry_after: 30 });
    let step = w.run_once().await.unwrap();
    assert_eq!(
        step.count(salgate::jobs::crm_writer::Outcome::RateLimited),
        1
    );
    assert!(mock.writes().is_empty());
    let t0 = app.clock.now();
    let due: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT next_attempt_at FROM crm_writebacks")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(due, t0 + chrono::Duration::seconds(30));
    app.clock.advance(chrono::Duration::seconds(29));
    assert_eq!(
        w.run_once().await.unwrap().calls,
        0,
        "not before Retry-After"
    );
    app.clock.advance(chrono::Duration::seconds(1));
    let step = w.run_once().await.unwrap();
    assert_eq!(step.count(salgate::jobs::crm_writer::Outcome::Sent), 1);
    assert_eq!(writes_to(&mock, "401").len(), 1);
}

#[tokio::test]
async fn a_401_from_salesforce_refreshes_the_token_and_retries() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let w = writer(&app, &mock);
    let lead = app
        .ingest(&crm_lead("salesforce", "00Q5g000001TOKEN", Some("rep-1")))
        .await;
    assert_eq!(w.run_once().await.unwrap().calls, 1);
    assert_eq!(mock.tokens_issued(), 1);
    // The cached token is used again while it works.
    let revops = app.key(Role::Revops, None).await;
    let id = lead["id"].as_str().unwrap();
    let body = json!({"on_behalf_of": "rep-1"});
    assert_eq!(app.decide(id, "accept", &revops, &body).await.status(), 200);
    mock.expire_tokens();
    let step = w.run_once().await.unwrap();
    assert_eq!(
        step.count(salgate::jobs::crm_writer::Outcome::Sent),
        1,
        "{step:?}"
    );
    assert_eq!(mock.tokens_issued(), 2, "one refresh after the 401");
    let writes = writes_to(&mock, "00Q5g000001TOKEN");
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[1]["Status"], "Working - Contacted");
    assert_eq!(writes[1]["SAL_State__c"], "accepted");
    assert_eq!(writes[1]["SAL_Accepted_By__c"], "rep-1");
    assert_eq!(writes[0]["OwnerId"], "rep-1");
}

#[tokio::test]
async fn a_field_error_marks_that_delivery_failed_with_the_crms_message() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let w = writer(&app, &mock);
    let bad = app
        .ingest(&crm_lead("salesforce", "00Q5g000001BAD01", Some("rep-1")))
        .await;
    app.ingest(&crm_lead("salesforce", "00Q5g000001GOOD1", Some("rep-1")))
        .await;
    assert_eq!(w.run_once().await.unwrap().calls, 1);
    // `Recycled` is not in the org's Status picklist until an admin adds it.
    let revops = app.key(Role::Revops, None).await;
    let id = bad["id"].as_str().unwrap();
    let body = json!({"on_behalf_of": "rep-1", "reason": "not_ready"});
    assert_eq!(
        app.decide(id, "recycle", &revops, &body).await.status(),
        200
    );
    let step = w.run_once().await.unwrap();
    assert_eq!(
        step.count(salgate::jobs::crm_writer::Outcome::Failed),
        1,
        "{step:?}"
    );
    let listed: Value = app
        .get("/v1/crm-writebacks?status=failed", &revops)
        .await
        .json()
        .await
        .unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["lead_id"], id);
    assert_eq!(items[0]["event"], "recycled");
    assert_eq!(
        items[0]["last_error"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Status: bad value for restricted picklist field: Recycled (Status)"
    );
    // Not retried: a day later nothing is due.
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(w.run_once().await.unwrap().calls, 0);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("salgate_crm_writebacks_total")
                && l.contains("crm=\"salesforce\"")
                && l.contains("outcome=\"failed\"")),
        "{metrics}"
    );
    let bad_query = app
        .get("/v1/crm-writebacks?status=broken&colour=red", &revops)
        .await;
    let p = crate::helpers::problem(bad_query, 422, "validation_failed").await;
    assert_eq!(crate::helpers::fields(&p), ["status", "colour"]);
}
