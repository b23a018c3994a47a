//! Rejection codes and recycle reasons: list, add, relabel or retire.

use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    db::reason_codes::{self, ReasonCode, ReasonKind},
    domain::{
        body::{Check, Field},
        validation::SlugKind,
    },
    service::{Error, Result, Service},
};

// Read as `domain::body` describes, as is the patch.
/// Body to create a code.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct NewReasonCode {
    /// Lowercase letters, digits, `_-.`; at most 64 characters.
    #[schema(value_type = String, schema_with = crate::domain::slug::key_schema)]
    pub code: Field,
    #[schema(value_type = String)]
    pub label: Field,
    /// Default true.
    #[schema(value_type = Option<bool>)]
    pub active: Field,
}

/// Body to change a code: label and/or active (retire with `false`).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct ReasonCodePatch {
    #[schema(value_type = Option<String>)]
    pub label: Field,
    #[schema(value_type = Option<bool>)]
    pub active: Field,
}

const NO_SUCH_CODE: &str = "no such code";

impl Service {
    /// Every code of `kind`, active and retired.
    pub async fn reason_codes(&self, kind: ReasonKind) -> Result<Vec<ReasonCode>> {
        Ok(reason_codes::list(&self.db, kind).await?)
    }

    /// Adds a code from a [`NewReasonCode`] body; a code that exists is a conflict.
    pub async fn create_reason_code(&self, kind: ReasonKind, body: &Value) -> Result<ReasonCode> {
        let (
            NewReasonCode {
                code,
                label,
                active,
            },
            mut f,
        ) = Check::read(body).map_err(Error::Validation)?;
        let code = f.req_slug("code", code, SlugKind::Key);
        let label = f.req_str("label", label, 200);
        let active = f.opt_bool("active", active).unwrap_or(true);
        let (code, label) = f.done(code.zip(label)).map_err(Error::Validation)?;
        let now = self.clock.now();
        reason_codes::create(&self.db, kind, &code, &label, active, now)
            .await?
            .ok_or_else(|| Error::Conflict {
                code: "already_exists",
                detail: format!("the {} code `{code}` already exists", kind.as_str()),
            })
    }

    /// Relabels or retires (`active: false`) a code from a [`ReasonCodePatch`] body.
    pub async fn update_reason_code(
        &self,
        kind: ReasonKind,
        code: &str,
        body: &Value,
    ) -> Result<ReasonCode> {
        if !SlugKind::Key.matches(code) {
            return Err(Error::NotFound(NO_SUCH_CODE));
        }
        let (ReasonCodePatch { label, active }, mut f) =
            Check::read(body).map_err(Error::Validation)?;
        let label = f.opt_str("label", label, 200);
        let active = f.opt_bool("active", active);
        f.done(Some(())).map_err(Error::Validation)?;
        let now = self.clock.now();
        reason_codes::update(&self.db, kind, code, label.as_deref(), active, now)
            .await?
            .ok_or(Error::NotFound(NO_SUCH_CODE))
    }
}
