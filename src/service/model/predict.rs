//! Predictions on the leads the API returns: computed on read from the served model in memory
//! (a lead's features, one sum per feature), so ingest does no model work at all.

use std::sync::Arc;

use super::{named, Served};
use crate::{
    db::leads::LeadRow,
    domain::{features::FeatureVector, model::Prediction, LeadState},
    service::{Result, Service},
};

impl Service {
    /// The served model, asking the database for a newer one at most once per cache TTL.
    pub(crate) async fn served_model(&self) -> Result<Option<Arc<Served>>> {
        Ok(self.model.get(&self.db).await?)
    }

    /// The prediction of an open lead under `served`; `None` for a decided lead or without a
    /// ready model.
    pub(crate) fn predict(&self, served: Option<&Served>, lead: &LeadRow) -> Option<Prediction> {
        if lead.state != LeadState::Routed {
            return None;
        }
        let model = served?.model.as_ref()?;
        // A lead stored before features were has none: no guess rather than the prior alone.
        let features = named(&FeatureVector::decode(lead.features.as_deref()?));
        Some(model.predict(features.iter().map(|(n, v)| (n.as_str(), v.as_str()))))
    }
}
