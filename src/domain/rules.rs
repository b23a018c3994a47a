//! Ingest rules (docs/api.md, "Ingest rules"): a condition over a lead's fields, its company,
//! its attributes and three facts ingest finds out, and one action. Pure: a [`Rule`] is parsed
//! once (`parse.rs`: every bad member named, regexes compiled with a size limit), and
//! [`Condition::evaluate`] reads a [`RuleInput`], which both ingest (a new lead and its
//! judgement) and the backtest (a stored cycle) build, so a rule means the same thing live and
//! on history.

mod input;
pub mod parse;
#[cfg(test)]
mod tests;

use regex::Regex;
use serde_json::{json, Value};

pub use input::{Facts, PastCycle, RuleInput};
pub use parse::{ActionBody, ActionType, ClauseBody, ConditionBody, OpName, RuleBody};

/// Whether a rule acts or only records what it would have done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    DryRun,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry_run",
            Mode::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::DryRun, Mode::Live]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// A rule that passed parsing (its codes, queues and reps are checked by the service).
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub position: i32,
    pub mode: Mode,
    pub condition: Condition,
    pub action: Action,
}

/// What a matching live rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Routes the lead to a queue (its strategy picks the owner) and/or to an owner.
    Route {
        queue: Option<String>,
        owner: Option<String>,
    },
    /// Rejects it at once with an active rejection code.
    Reject { code: String },
    /// Recycles it at once (back to nurture) with an active recycle reason.
    Recycle { reason: String },
    /// Routes it to `owner` and accepts it on the owner's behalf.
    Accept {
        owner: String,
        queue: Option<String>,
    },
}

impl Action {
    /// The action as a rule body writes it.
    pub fn to_json(&self) -> Value {
        match self {
            Action::Route { queue, owner } => {
                let mut v = json!({"type": "route"});
                if let Some(q) = queue {
                    v["queue"] = q.as_str().into();
                }
                if let Some(o) = owner {
                    v["owner"] = o.as_str().into();
                }
                v
            }
            Action::Reject { code } => json!({"type": "reject", "code": code}),
            Action::Recycle { reason } => json!({"type": "recycle", "reason": reason}),
            Action::Accept { owner, queue } => {
                let mut v = json!({"type": "accept", "owner": owner});
                if let Some(q) = queue {
                    v["queue"] = q.as_str().into();
                }
                v
            }
        }
    }

    /// The queue and owner a lead is routed to before it is stored (route and accept).
    pub fn routes_to(&self) -> Option<(Option<&str>, Option<&str>)> {
        match self {
            Action::Route { queue, owner } => Some((queue.as_deref(), owner.as_deref())),
            Action::Accept { owner, queue } => Some((queue.as_deref(), Some(owner.as_str()))),
            Action::Reject { .. } | Action::Recycle { .. } => None,
        }
    }
}

/// `all` (every clause holds) or `any` (one does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    All,
    Any,
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub join: Join,
    pub clauses: Vec<Clause>,
}

impl Condition {
    /// Whether the condition holds for `input`.
    pub fn evaluate(&self, input: &RuleInput<'_>) -> bool {
        let mut each = self.clauses.iter().map(|c| c.holds(input));
        match self.join {
            Join::All => each.all(|b| b),
            Join::Any => each.any(|b| b),
        }
    }

    /// Every field the condition reads (the backtest reads only those columns).
    pub fn fields(&self) -> impl Iterator<Item = &FieldRef> {
        self.clauses.iter().map(|c| &c.field)
    }

    pub fn to_json(&self) -> Value {
        let clauses: Vec<Value> = self.clauses.iter().map(Clause::to_json).collect();
        match self.join {
            Join::All => json!({ "all": clauses }),
            Join::Any => json!({ "any": clauses }),
        }
    }
}

/// One test of one field.
#[derive(Debug, Clone)]
pub struct Clause {
    pub field: FieldRef,
    pub test: Test,
}

impl Clause {
    fn holds(&self, input: &RuleInput<'_>) -> bool {
        let v = input.value(&self.field);
        match &self.test {
            Test::Eq(lit) => lit.equals(&v),
            Test::In(lits) => lits.iter().any(|l| l.equals(&v)),
            Test::Matches(re) => matches!(v, Val::Str(s) if re.is_match(s)),
            Test::Lt(n) => matches!(v, Val::Num(x) if x < *n),
            Test::Gt(n) => matches!(v, Val::Num(x) if x > *n),
            Test::Missing(want) => matches!(v, Val::Missing) == *want,
        }
    }

    fn to_json(&self) -> Value {
        let field = self.field.name();
        let (op, value) = match &self.test {
            Test::Eq(l) => ("eq", Some(l.to_json())),
            Test::In(ls) => ("in", Some(ls.iter().map(Lit::to_json).collect())),
            Test::Matches(re) => ("matches", Some(re.as_str().into())),
            Test::Lt(n) => ("lt", Some(json!(n))),
            Test::Gt(n) => ("gt", Some(json!(n))),
            Test::Missing(w) => ("missing", Some((*w).into())),
        };
        json!({"field": field, "op": op, "value": value})
    }
}

#[derive(Debug, Clone)]
pub enum Test {
    Eq(Lit),
    In(Vec<Lit>),
    /// Compiled once, under a size limit, when the rule is parsed.
    Matches(Regex),
    Lt(f64),
    Gt(f64),
    /// `true`: the field is absent (or null); `false`: it is present.
    Missing(bool),
}

/// A literal a rule compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl Lit {
    /// Exact equality: strings case-sensitively, numbers numerically, no coercion between kinds.
    fn equals(&self, v: &Val<'_>) -> bool {
        match (self, v) {
            (Lit::Str(a), Val::Str(b)) => a == b,
            (Lit::Num(a), Val::Num(b)) => a == b,
            (Lit::Bool(a), Val::Bool(b)) => a == b,
            _ => false,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Lit::Str(s) => s.as_str().into(),
            Lit::Num(n) => json!(n),
            Lit::Bool(b) => (*b).into(),
        }
    }
}

/// A field's value as a clause sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    Missing,
    Str(&'a str),
    Num(f64),
    Bool(bool),
    /// An array or object (in `attributes`): only `missing` tests it.
    Other,
}

impl<'a> Val<'a> {
    fn of_json(v: Option<&'a Value>) -> Val<'a> {
        match v {
            None | Some(Value::Null) => Val::Missing,
            Some(Value::String(s)) => Val::Str(s),
            Some(Value::Number(n)) => n.as_f64().map_or(Val::Other, Val::Num),
            Some(Value::Bool(b)) => Val::Bool(*b),
            Some(_) => Val::Other,
        }
    }

    fn of_str(v: Option<&'a str>) -> Val<'a> {
        v.map_or(Val::Missing, Val::Str)
    }
}

/// What a clause reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    Lead(LeadField),
    Company(CompanyField),
    Attribute(String),
    Fact(Fact),
}

impl FieldRef {
    pub fn name(&self) -> String {
        match self {
            FieldRef::Lead(f) => f.as_str().into(),
            FieldRef::Company(f) => format!("company.{}", f.as_str()),
            FieldRef::Attribute(k) => format!("attributes.{k}"),
            FieldRef::Fact(f) => f.as_str().into(),
        }
    }

    /// What kind of value the field holds, for checking a clause's operator at parse time.
    fn kind(&self) -> Kind {
        match self {
            FieldRef::Lead(LeadField::Score) => Kind::Number,
            FieldRef::Lead(_) => Kind::Text,
            FieldRef::Company(CompanyField::Size) | FieldRef::Attribute(_) => Kind::Any,
            FieldRef::Company(_) => Kind::Text,
            FieldRef::Fact(_) => Kind::Fact,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    /// A number or a text (`company.size`, `attributes.*`).
    Any,
    /// Always true or false.
    Fact,
}

macro_rules! names {
    ($(#[$m:meta])* $name:ident { $($v:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($v),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),* }
            }

            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|f| f.as_str() == s)
            }
        }
    };
}

names!(
    /// The lead fields a rule may read.
    LeadField {
        Source => "source",
        LeadType => "lead_type",
        Email => "email",
        Title => "title",
        Score => "score",
        Campaign => "campaign",
        Channel => "channel",
        Queue => "queue",
        Owner => "owner",
        FirstName => "first_name",
        LastName => "last_name",
        Phone => "phone",
    }
);

names!(
    /// The `company.*` fields a rule may read.
    CompanyField {
        Name => "name",
        Domain => "domain",
        Size => "size",
        Industry => "industry",
        Country => "country",
        Region => "region",
    }
);

names!(
    /// What ingest finds out about a lead before it is stored.
    Fact {
        DuplicateFound => "duplicate_found",
        FreeMail => "free_mail",
        AccountAccepted => "account_accepted",
    }
);
