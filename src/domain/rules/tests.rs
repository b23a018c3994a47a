//! The rule model on its own: parsing names every bad member, and each operator evaluates as
//! documented over one input built from a lead and one built from a stored cycle.

use serde_json::{json, Value};

use super::*;
use crate::domain::lead_input::Company;

fn rule(condition: Value, action: Value) -> Result<Rule, Vec<String>> {
    Rule::parse(&json!({"name": "r", "position": 1, "condition": condition, "action": action}))
        .map_err(|e| e.into_iter().map(|f| f.field).collect())
}

fn reject() -> Value {
    json!({"type": "reject", "code": "out_of_territory"})
}

fn holds(clause: Value, input: &RuleInput<'_>) -> bool {
    rule(json!({"all": [clause]}), reject())
        .unwrap()
        .condition
        .evaluate(input)
}

#[test]
fn each_operator_holds_only_where_documented() {
    let company = Company {
        country: Some("DE".into()),
        size: Some(json!(40)),
        ..Company::default()
    };
    let attributes = json!({"tier": "gold", "seats": 12}).as_object().cloned();
    let cycle = PastCycle {
        source: Some("hubspot".into()),
        email: Some("a@gmail.com".into()),
        score: Some(55.0),
        company: Some(company),
        attributes,
        duplicate_found: true,
        ..PastCycle::default()
    };
    let input = RuleInput::of_cycle(&cycle);
    let cases = [
        (
            json!({"field": "source", "op": "eq", "value": "hubspot"}),
            true,
        ),
        (
            json!({"field": "source", "op": "eq", "value": "HubSpot"}),
            false,
        ),
        (
            json!({"field": "company.country", "op": "in", "value": ["FR", "DE"]}),
            true,
        ),
        (
            json!({"field": "company.country", "op": "in", "value": ["FR"]}),
            false,
        ),
        (
            json!({"field": "email", "op": "matches", "value": "@gmail\\.com$"}),
            true,
        ),
        (
            json!({"field": "email", "op": "matches", "value": "^b"}),
            false,
        ),
        (json!({"field": "score", "op": "lt", "value": 60}), true),
        (json!({"field": "score", "op": "gt", "value": 60}), false),
        (
            json!({"field": "company.size", "op": "gt", "value": 39}),
            true,
        ),
        (
            json!({"field": "attributes.seats", "op": "lt", "value": 12}),
            false,
        ),
        (
            json!({"field": "attributes.tier", "op": "eq", "value": "gold"}),
            true,
        ),
        (json!({"field": "title", "op": "missing"}), true),
        (
            json!({"field": "title", "op": "missing", "value": false}),
            false,
        ),
        (json!({"field": "attributes.nope", "op": "missing"}), true),
        (
            json!({"field": "duplicate_found", "op": "eq", "value": true}),
            true,
        ),
        (
            json!({"field": "free_mail", "op": "eq", "value": true}),
            true,
        ),
        (
            json!({"field": "account_accepted", "op": "eq", "value": true}),
            false,
        ),
    ];
    for (clause, want) in cases {
        assert_eq!(holds(clause.clone(), &input), want, "{clause}");
    }
}

#[test]
fn all_needs_every_clause_and_any_needs_one() {
    let cycle = PastCycle {
        source: Some("hubspot".into()),
        ..PastCycle::default()
    };
    let input = RuleInput::of_cycle(&cycle);
    let yes = json!({"field": "source", "op": "eq", "value": "hubspot"});
    let no = json!({"field": "source", "op": "eq", "value": "web"});
    let all = rule(json!({"all": [yes, no]}), reject()).unwrap();
    let any = rule(json!({"any": [yes, no]}), reject()).unwrap();
    assert!(!all.condition.evaluate(&input));
    assert!(any.condition.evaluate(&input));
}

#[test]
fn every_bad_member_is_named_by_its_path() {
    let errors = rule(
        json!({"all": [
            {"field": "source", "op": "eq", "value": "x"},
            {"field": "nope", "op": "eq", "value": 1},
            {"field": "score", "op": "between", "value": 1},
            {"field": "email", "op": "matches", "value": "("},
            {"field": "title", "op": "lt", "value": 3},
            {"field": "free_mail", "op": "eq", "value": "yes"},
        ]}),
        json!({"type": "accept"}),
    )
    .unwrap_err();
    assert_eq!(
        errors,
        [
            "condition.all[1].field",
            "condition.all[2].op",
            "condition.all[3].value",
            "condition.all[4].op",
            "condition.all[5].value",
            "action.owner",
        ]
    );
}

#[test]
fn actions_take_only_their_own_members() {
    assert_eq!(
        rule(
            json!({"any": [{"field": "free_mail", "op": "eq", "value": true}]}),
            json!({"type": "reject", "code": "other"})
        )
        .unwrap_err(),
        ["action.code"]
    );
    assert_eq!(
        rule(
            json!({"any": [{"field": "free_mail", "op": "eq", "value": true}]}),
            json!({"type": "recycle", "reason": "not_ready", "owner": "x"})
        )
        .unwrap_err(),
        ["action.owner"]
    );
    assert_eq!(
        rule(json!({"all": [], "any": []}), json!({"type": "route"})).unwrap_err(),
        ["condition.any", "action.queue"]
    );
}

#[test]
fn a_regex_over_the_size_limit_is_refused() {
    let errors = rule(
        json!({"all": [{"field": "email", "op": "matches", "value": "(\\w{100}){100}"}]}),
        reject(),
    )
    .unwrap_err();
    assert_eq!(errors, ["condition.all[0].value"]);
}

#[test]
fn a_parsed_rule_reads_back_as_the_same_rule() {
    let r = rule(
        json!({"any": [{"field": "company.country", "op": "in", "value": ["DE", 3]}]}),
        json!({"type": "accept", "owner": "rep-1"}),
    );
    assert!(r.is_err(), "a number in a text list is refused");
    let r = rule(
        json!({"any": [{"field": "attributes.x", "op": "in", "value": ["DE", 3]}]}),
        json!({"type": "accept", "owner": "rep-1"}),
    )
    .unwrap();
    let again = rule(r.condition.to_json(), r.action.to_json()).unwrap();
    assert_eq!(again.condition.to_json(), r.condition.to_json());
    assert_eq!(again.action, r.action);
}
