//! Which account ingest matches a lead to.

use serde_json::Value;

use super::{account_of, get_account, lead_of};
use crate::helpers::spawn_app;

#[tokio::test]
async fn name_variants_of_one_company_meet_at_one_account() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (i, name) in ["Acme Inc.", "ACME", "acme gmbh", "Acme, Ltd."]
        .iter()
        .enumerate()
    {
        let body = lead_of(
            &format!("n-{i}"),
            Some(name),
            None,
            &format!("p{i}@gmail.com"),
        );
        ids.push(account_of(&app, &body).await);
    }
    assert!(ids[0].is_string(), "{ids:?}");
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let other = account_of(
        &app,
        &lead_of("n-x", Some("Acme Rockets"), None, "r@gmail.com"),
    )
    .await;
    assert_ne!(other, ids[0]);
    let account = get_account(&app, ids[0].as_str().unwrap()).await;
    assert_eq!(account["lead_count"], 4);
    assert_eq!(account["domain"], Value::Null);
}

#[tokio::test]
async fn a_company_domain_or_a_work_email_domain_makes_one_account() {
    let app = spawn_app().await;
    let by_company = account_of(
        &app,
        &lead_of("d-1", Some("Globex"), Some("globex.com"), "a@x.org"),
    )
    .await;
    let by_email = account_of(&app, &lead_of("d-2", None, None, "b@globex.com")).await;
    let other_name = account_of(
        &app,
        &lead_of(
            "d-3",
            Some("Globex Corporation"),
            Some("GLOBEX.com"),
            "c@y.org",
        ),
    )
    .await;
    assert!(by_company.is_string());
    assert_eq!(by_email, by_company);
    assert_eq!(other_name, by_company);
    let account = get_account(&app, by_company.as_str().unwrap()).await;
    assert_eq!(account["domain"], "globex.com");
    assert_eq!(account["lead_count"], 3);
}

#[tokio::test]
async fn free_mail_domains_never_make_an_account() {
    let app = spawn_app().await;
    // A gmail address with a company name: the name's account, not gmail's.
    let named = account_of(
        &app,
        &lead_of("f-1", Some("Initech"), None, "peter@gmail.com"),
    )
    .await;
    let account = get_account(&app, named.as_str().unwrap()).await;
    assert_eq!(account["name"], "Initech");
    assert_eq!(account["domain"], Value::Null);
    // A free-mail company domain is no company's domain either.
    let same = account_of(
        &app,
        &lead_of("f-2", Some("Initech"), Some("gmail.com"), "m@gmail.com"),
    )
    .await;
    assert_eq!(same, named);
    // Without a company name: no account at all.
    for (i, email) in ["solo@gmail.com", "x@yahoo.com", "y@mailinator.com"]
        .iter()
        .enumerate()
    {
        let none = account_of(&app, &lead_of(&format!("f-n{i}"), None, None, email)).await;
        assert_eq!(none, Value::Null, "{email}");
    }
    assert_eq!(app.count("accounts").await, 1);
}
