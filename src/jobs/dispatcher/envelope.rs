//! What a delivery sends: the envelope of docs/api.md §7, signed, to the subscription's URL.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::{db::leads::LeadRow, db::webhook_dispatch::Claimed};

/// The body sent: `{id, type, occurred_at, data: {lead, entry}}`, the lead as the API shows it
/// right after the change (its `sla` as of the event).
pub fn envelope(d: &Claimed) -> Vec<u8> {
    let p = &d.payload;
    let occurred_at: Option<DateTime<Utc>> = serde_json::from_value(p["occurred_at"].clone()).ok();
    let lead: Value = match serde_json::from_value::<LeadRow>(p["lead"].clone()) {
        Ok(l) => {
            let at = occurred_at.unwrap_or(l.updated_at);
            serde_json::to_value(l.into_view(at)).unwrap_or(Value::Null)
        }
        Err(e) => {
            tracing::error!(error = %e, delivery = %d.id, "stored lead snapshot unreadable");
            Value::Null
        }
    };
    let e = &p["entry"];
    let entry = json!({
        "kind": e["kind"], "cycle": e["cycle"], "actor": e["actor"], "rep": e["rep_id"],
        "code": e["code"], "note": e["note"], "data": e["data"],
    });
    let body = json!({
        "id": d.event_id,
        "type": d.event_type,
        "occurred_at": occurred_at,
        "data": { "lead": lead, "entry": entry },
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
