//! The headers of a lead response: `ETag` (the version), `Location` of a created lead, and the
//! `If-Match` a decision may carry.

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

use crate::views::lead::Lead;

/// `lead` (its `sla` view filled by the use case) with its version as the `ETag`.
pub fn with_etag(status: StatusCode, lead: Lead) -> Response {
    let mut res = (status, Json(&lead)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", lead.version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// 201 with `ETag` and `Location`.
pub fn created(lead: Lead) -> Response {
    let location = format!("/v1/leads/{}", lead.id);
    let mut res = with_etag(StatusCode::CREATED, lead);
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// `If-Match: "3"` (or `W/"3"`, or `*`). `Some(None)` is `*`.
pub fn if_match(headers: &HeaderMap) -> Option<Option<String>> {
    let v = headers.get(header::IF_MATCH)?.to_str().unwrap_or("").trim();
    if v == "*" {
        return Some(None);
    }
    Some(Some(
        v.trim_start_matches("W/").trim_matches('"').to_string(),
    ))
}
