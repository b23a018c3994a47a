//! API keys (admin): list, create (the token exists only in that answer), revoke.

use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    db::api_keys::{self, ApiKey},
    domain::{
        body::{Check, Field},
        validation::SlugKind,
        Role,
    },
    service::{Error, Result, Service},
};

// Read as `domain::body` describes.
/// Body to create a key.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct NewApiKey {
    #[schema(value_type = Role)]
    pub role: Field,
    /// Required for `sdr` keys (the rep they act as); refused for others.
    #[schema(value_type = Option<String>, schema_with = crate::domain::slug::opt_id_schema)]
    pub rep: Field,
    #[schema(value_type = Option<String>)]
    pub name: Field,
}

/// The 404 of a key id that is not one.
pub const NO_KEY: &str = "no API key with this id";

/// A key id of a path or a form.
pub fn key_id(raw: &str) -> Result<Uuid> {
    raw.parse().map_err(|_| Error::NotFound(NO_KEY))
}

impl Service {
    /// Every key (without tokens).
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        Ok(api_keys::list(&self.db).await?)
    }

    /// Creates a key from a [`NewApiKey`] body; returns it with its token.
    pub async fn create_api_key(&self, body: &Value) -> Result<(ApiKey, String)> {
        let (NewApiKey { role, rep, name }, mut f) =
            Check::read(body).map_err(Error::Validation)?;
        let role = f.req_str("role", role, 20).and_then(|r| {
            let role = Role::parse(&r);
            if role.is_none() {
                f.error("role", "must be one of ingest, sdr, revops, admin");
            }
            role
        });
        let before = f.errors.len();
        let rep = f.opt_slug("rep", rep, SlugKind::Id);
        let rep_refused = f.errors.len() > before;
        let name = f.opt_str("name", name, 200);
        match (role, &rep) {
            (Some(Role::Sdr), None) if !rep_refused => f.error("rep", "is required for an sdr key"),
            (Some(r), Some(_)) if r != Role::Sdr => {
                f.error("rep", "only sdr keys are bound to a rep")
            }
            _ => {}
        }
        let role = f.done(role).map_err(Error::Validation)?;
        let name = name.unwrap_or_else(|| format!("{role} key"));
        let now = self.clock.now();
        Ok(api_keys::create(&self.db, role, rep.as_deref(), &name, now).await?)
    }

    /// Revokes key `id`. The caller drops its replica's key cache; other replicas hear of it
    /// through the key listener.
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<()> {
        api_keys::revoke(&self.db, id, self.clock.now())
            .await?
            .ok_or(Error::NotFound(NO_KEY))?;
        Ok(())
    }
}
