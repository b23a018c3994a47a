//! Campaign spend (docs/api.md "Campaigns"): replacing a campaign's monthly spend and reading
//! it back. The funnel report prorates it (`service::metrics::funnel`).

use serde_json::Value;

use super::{Error, Result, Service};
use crate::{
    db::campaigns::{self, Campaign},
    domain::spend,
};

/// Longest campaign id: as long as a lead's `campaign` may be.
pub const MAX_ID: usize = 200;

/// A campaign id from a path: a lead's `campaign` value, so any text of 1 to 200 characters
/// without surrounding spaces or NUL.
pub fn check_id(id: &str) -> Result<()> {
    let ok =
        !id.is_empty() && id.chars().count() <= MAX_ID && id.trim() == id && !id.contains('\0');
    if ok {
        Ok(())
    } else {
        Err(Error::NotFound("no campaign with this id"))
    }
}

impl Service {
    /// Replaces campaign `id`'s spend with the body's months.
    pub async fn put_campaign(&self, id: &str, body: &Value) -> Result<Campaign> {
        check_id(id)?;
        let spend = spend::parse(body).map_err(Error::Validation)?;
        campaigns::put(&self.db, id, &spend, self.clock.now()).await?;
        campaigns::get(&self.db, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("a campaign just stored was not found").into())
    }

    /// One campaign with its spend.
    pub async fn campaign(&self, id: &str) -> Result<Campaign> {
        check_id(id)?;
        campaigns::get(&self.db, id)
            .await?
            .ok_or(Error::NotFound("no campaign with this id"))
    }

    /// Every campaign with known spend, by id.
    pub async fn campaigns(&self) -> Result<Vec<Campaign>> {
        Ok(campaigns::list(&self.db).await?)
    }
}
