//! A rule's condition, read as [`super::ConditionBody`] describes it: its clauses, their
//! fields, operators and literals, each bad member named by its path (`condition.all[2].op`).

use regex::RegexBuilder;
use serde_json::Value;

use super::{
    ClauseBody, ConditionBody, OpName, MAX_CLAUSES, MAX_IN, MAX_PATTERN, REGEX_SIZE_LIMIT,
};
use crate::domain::{
    body::{Check, Field},
    rules::{Clause, CompanyField, Condition, Fact, FieldRef, Join, Kind, LeadField, Lit, Test},
};

pub(super) fn parse_condition(f: &mut Check, v: Field) -> Option<Condition> {
    if v.get().is_none() {
        f.error("condition", "is required");
        return None;
    }
    let (ConditionBody { all, any }, mut c) = f.child::<ConditionBody>("condition", v)?;
    let parsed = match (all.get(), any.get()) {
        (Some(_), Some(_)) => {
            c.error("any", "give `all` or `any`, not both");
            None
        }
        (None, None) => {
            c.error("all", "give `all` or `any`: a list of clauses");
            None
        }
        (Some(list), None) => parse_clauses(&mut c, "all", list).map(|cl| (Join::All, cl)),
        (None, Some(list)) => parse_clauses(&mut c, "any", list).map(|cl| (Join::Any, cl)),
    };
    f.finish_child(c);
    parsed.map(|(join, clauses)| Condition { join, clauses })
}

fn parse_clauses(c: &mut Check, key: &str, list: &Value) -> Option<Vec<Clause>> {
    let Value::Array(items) = list else {
        c.error(key, "must be a list of clauses");
        return None;
    };
    if items.is_empty() || items.len() > MAX_CLAUSES {
        c.error(key, format!("must hold 1 to {MAX_CLAUSES} clauses"));
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match parse_clause(c, &format!("{key}[{i}]"), item) {
            Some(clause) => out.push(clause),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_clause(parent: &mut Check, key: &str, item: &Value) -> Option<Clause> {
    let (ClauseBody { field, op, value }, mut c) =
        parent.child::<ClauseBody>(key, Field::from(Some(item)))?;
    let field = parse_field(&mut c, field);
    let op = match op.get() {
        None => {
            c.error("op", "is required");
            None
        }
        Some(v) => match serde_json::from_value::<OpName>(v.clone()) {
            Ok(op) => Some(op),
            Err(_) => {
                c.error("op", "must be one of eq, in, matches, lt, gt, missing");
                None
            }
        },
    };
    let test = match (&field, op) {
        (Some(field), Some(op)) => parse_test(&mut c, field, op, value),
        _ => None,
    };
    parent.finish_child(c);
    Some(Clause {
        field: field?,
        test: test?,
    })
}

fn parse_field(c: &mut Check, v: Field) -> Option<FieldRef> {
    let name = c.req_str("field", v, 200)?;
    let found = if let Some(rest) = name.strip_prefix("company.") {
        CompanyField::parse(rest).map(FieldRef::Company)
    } else if let Some(key) = name.strip_prefix("attributes.") {
        (!key.is_empty()).then(|| FieldRef::Attribute(key.to_string()))
    } else {
        LeadField::parse(&name)
            .map(FieldRef::Lead)
            .or_else(|| Fact::parse(&name).map(FieldRef::Fact))
    };
    if found.is_none() {
        c.error(
            "field",
            "must be a lead field, company.<field>, attributes.<key>, duplicate_found, \
             free_mail or account_accepted",
        );
    }
    found
}

fn parse_test(c: &mut Check, field: &FieldRef, op: OpName, value: Field) -> Option<Test> {
    let kind = field.kind();
    let value = value.into_value();
    if kind == Kind::Fact && !matches!(op, OpName::Eq | OpName::In) {
        c.error("op", "a fact is tested with eq (or in) true or false");
        return None;
    }
    match op {
        OpName::Eq => literal(c, "value", kind, value.as_ref()).map(Test::Eq),
        OpName::In => {
            let Some(Value::Array(items)) = &value else {
                c.error("value", format!("must be a list of 1 to {MAX_IN} values"));
                return None;
            };
            if items.is_empty() || items.len() > MAX_IN {
                c.error("value", format!("must be a list of 1 to {MAX_IN} values"));
                return None;
            }
            let lits: Vec<Option<Lit>> = items
                .iter()
                .enumerate()
                .map(|(i, v)| literal(c, &format!("value[{i}]"), kind, Some(v)))
                .collect();
            lits.into_iter().collect::<Option<Vec<_>>>().map(Test::In)
        }
        OpName::Matches => {
            if kind == Kind::Number {
                c.error("op", "matches tests text: use eq, in, lt or gt on a number");
                return None;
            }
            let Some(Value::String(p)) = &value else {
                c.error("value", "must be a regular expression (a string)");
                return None;
            };
            if p.chars().count() > MAX_PATTERN {
                c.error("value", format!("must be at most {MAX_PATTERN} characters"));
                return None;
            }
            match RegexBuilder::new(p)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                Ok(re) => Some(Test::Matches(re)),
                Err(e) => {
                    c.error("value", format!("is not a usable regular expression: {e}"));
                    None
                }
            }
        }
        OpName::Lt | OpName::Gt => {
            if kind == Kind::Text {
                c.error("op", "lt and gt compare numbers: use them on score, company.size or attributes.<key>");
                return None;
            }
            let Some(n) = value.as_ref().and_then(Value::as_f64) else {
                c.error("value", "must be a number");
                return None;
            };
            Some(if matches!(op, OpName::Lt) {
                Test::Lt(n)
            } else {
                Test::Gt(n)
            })
        }
        OpName::Missing => match value {
            None => Some(Test::Missing(true)),
            Some(Value::Bool(b)) => Some(Test::Missing(b)),
            Some(_) => {
                c.error(
                    "value",
                    "must be true (the field is missing) or false, or absent",
                );
                None
            }
        },
    }
}

/// A literal of `eq` or `in`, of the kind the field holds.
fn literal(c: &mut Check, key: &str, kind: Kind, v: Option<&Value>) -> Option<Lit> {
    let lit = match v {
        Some(Value::String(s)) => Some(Lit::Str(s.clone())),
        Some(Value::Number(n)) => n.as_f64().map(Lit::Num),
        Some(Value::Bool(b)) => Some(Lit::Bool(*b)),
        _ => None,
    };
    let fits = match (&lit, kind) {
        (None, _) => false,
        (Some(Lit::Bool(_)), Kind::Fact) => true,
        (Some(_), Kind::Fact) => false,
        (Some(Lit::Str(_)), Kind::Text) => true,
        (Some(Lit::Num(_)), Kind::Number) => true,
        (Some(_), Kind::Any) => true,
        _ => false,
    };
    if !fits {
        let what = match kind {
            Kind::Fact => "must be true or false",
            Kind::Text => "must be a string",
            Kind::Number => "must be a number",
            Kind::Any => "must be a string, a number or true/false",
        };
        c.error(key, what);
        return None;
    }
    lit
}
