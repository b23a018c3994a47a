//! How salgate's lead fields are named and valued in each CRM (docs/crm.md): the state ↔
//! lead-status mapping and the field names, both configurable (`SALGATE_HUBSPOT_LEAD_STATUS_MAP`,
//! `SALGATE_HUBSPOT_FIELDS`, and the Salesforce pair), with the defaults in
//! `config/default.toml`. Pure: no I/O.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::domain::LeadState;

/// Which CRM a lead's record lives in: its `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrmKind {
    Hubspot,
    Salesforce,
}

impl CrmKind {
    pub const ALL: [CrmKind; 2] = [CrmKind::Hubspot, CrmKind::Salesforce];

    pub fn as_str(self) -> &'static str {
        match self {
            CrmKind::Hubspot => "hubspot",
            CrmKind::Salesforce => "salesforce",
        }
    }

    pub fn parse(s: &str) -> Option<CrmKind> {
        CrmKind::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// salgate's fields that a CRM record can carry, by their keys in the settings.
pub const FIELD_KEYS: [&str; 8] = [
    "status",
    "owner",
    "state",
    "rejection_code",
    "accepted_by",
    "accepted_at",
    "sla_status",
    "sla_due_at",
];

/// One CRM's names and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmMapping {
    pub crm: CrmKind,
    /// Our state → the CRM's lead status value, for all four states.
    statuses: Vec<(LeadState, String)>,
    /// Our field key → the CRM's property or field name; a key left out is not written.
    fields: Vec<(String, String)>,
}

impl CrmMapping {
    /// Parses `status_map` (`routed=OPEN,accepted=…`, all four states, distinct values) and
    /// `field_map` (`state=salgate_state,…`, keys from [`FIELD_KEYS`]). The error says what
    /// is wrong.
    pub fn parse(crm: CrmKind, status_map: &str, field_map: &str) -> Result<CrmMapping, String> {
        let mut statuses = Vec::new();
        for (k, v) in pairs(status_map)? {
            let state = LeadState::parse(&k).ok_or_else(|| {
                format!("`{k}` is not a state (routed, accepted, rejected, recycled)")
            })?;
            if statuses.iter().any(|(s, _)| *s == state) {
                return Err(format!("`{k}` is mapped twice"));
            }
            if statuses.iter().any(|(_, x)| *x == v) {
                return Err(format!("`{v}` is the value of two states"));
            }
            statuses.push((state, v));
        }
        if statuses.len() != 4 {
            return Err("must map each of routed, accepted, rejected, recycled".into());
        }
        let mut fields = Vec::new();
        for (k, v) in pairs(field_map)? {
            if !FIELD_KEYS.contains(&k.as_str()) {
                return Err(format!("`{k}` is not one of {}", FIELD_KEYS.join(", ")));
            }
            if fields.iter().any(|(x, _): &(String, String)| *x == k) {
                return Err(format!("`{k}` is named twice"));
            }
            fields.push((k, v));
        }
        Ok(CrmMapping {
            crm,
            statuses,
            fields,
        })
    }

    /// The CRM's status value for `state`.
    pub fn status_of(&self, state: LeadState) -> &str {
        self.statuses
            .iter()
            .find(|(s, _)| *s == state)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Our state for a CRM status value (exact match), if it is one of the mapped values.
    pub fn state_of(&self, value: &str) -> Option<LeadState> {
        self.statuses
            .iter()
            .find(|(_, v)| v == value)
            .map(|(s, _)| *s)
    }

    /// The CRM's name for our field `key`, when it is written.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The record's properties for a write-back snapshot (the `fields` of an outbox row): every
    /// mapped field, an empty one cleared (HubSpot: `""`, Salesforce: `null`); the owner only
    /// when the snapshot carries a CRM owner id.
    pub fn properties(&self, snapshot: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        let clear = match self.crm {
            CrmKind::Hubspot => Value::String(String::new()),
            CrmKind::Salesforce => Value::Null,
        };
        for (key, name) in &self.fields {
            let value = match key.as_str() {
                "status" => snapshot["state"]
                    .as_str()
                    .and_then(LeadState::parse)
                    .map(|s| Value::String(self.status_of(s).to_string())),
                "owner" => match snapshot["owner_crm_id"].as_str() {
                    Some(id) if !id.is_empty() => Some(Value::String(id.to_string())),
                    _ => continue,
                },
                "accepted_at" | "sla_due_at" => snapshot[key.as_str()]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| {
                        Value::String(
                            t.with_timezone(&Utc)
                                .to_rfc3339_opts(SecondsFormat::Millis, true),
                        )
                    }),
                k => snapshot[k]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string())),
            };
            out.insert(name.clone(), value.unwrap_or_else(|| clear.clone()));
        }
        out
    }
}

/// `a=b,c=d` as pairs, each side trimmed and non-empty.
fn pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("`{}` is not name=value", p.trim())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HS_STATUS: &str =
        "routed=OPEN,accepted=IN_PROGRESS,rejected=UNQUALIFIED,recycled=BAD_TIMING";

    #[test]
    fn a_snapshot_maps_to_the_named_properties() {
        let m = CrmMapping::parse(
            CrmKind::Hubspot,
            HS_STATUS,
            "status=hs_lead_status,owner=hubspot_owner_id,state=salgate_state,\
             rejection_code=salgate_rejection_code,accepted_at=salgate_accepted_at",
        )
        .unwrap();
        let p = m.properties(&json!({"state": "rejected", "rejection_code": "out_of_icp",
            "accepted_at": null, "owner_crm_id": null}));
        assert_eq!(
            Value::Object(p),
            json!({"hs_lead_status": "UNQUALIFIED", "salgate_state": "rejected",
                   "salgate_rejection_code": "out_of_icp", "salgate_accepted_at": ""})
        );
        let p = m.properties(&json!({"state": "accepted", "owner_crm_id": "77",
            "accepted_at": "2026-12-01T10:00:00.123456+00:00"}));
        assert_eq!(p["hubspot_owner_id"], "77");
        assert_eq!(p["salgate_accepted_at"], "2026-12-01T10:00:00.123Z");
        assert_eq!(m.state_of("IN_PROGRESS"), Some(LeadState::Accepted));
        assert_eq!(m.state_of("in_progress"), None);
    }

    #[test]
    fn salesforce_clears_with_null() {
        let m = CrmMapping::parse(
            CrmKind::Salesforce,
            HS_STATUS,
            "rejection_code=SAL_Rejection_Code__c",
        )
        .unwrap();
        assert_eq!(
            Value::Object(m.properties(&json!({"state": "routed"}))),
            json!({"SAL_Rejection_Code__c": null})
        );
    }

    #[test]
    fn bad_maps_are_refused() {
        let f = "state=x";
        for bad in [
            "routed=OPEN",
            "routed=OPEN,accepted=OPEN,rejected=X,recycled=Y",
            "routed=A,accepted=B,rejected=C,recycled=D,routed=E",
            "routed=A,accepted=B,rejected=C,open=D",
            "routed=A,accepted,rejected=C,recycled=D",
        ] {
            assert!(
                CrmMapping::parse(CrmKind::Hubspot, bad, f).is_err(),
                "{bad}"
            );
        }
        assert!(CrmMapping::parse(CrmKind::Hubspot, HS_STATUS, "colour=x").is_err());
        assert!(CrmMapping::parse(CrmKind::Hubspot, HS_STATUS, "state=a,state=b").is_err());
    }
}
