//! [`SlackTransport`]: one notification, one `chat.postMessage`.

use std::{future::Future, pin::Pin, sync::Arc};

use serde_json::Value;

use super::{blocks, lead_url, CallError, SlackApi, SlackSettings};
use crate::{
    clock::Clock,
    notify::{Delivered, Notification, Transport},
    outbound::Policy,
};

/// Posts notifications to Slack: to a user id (the app's DM with them) or a channel id.
pub struct SlackTransport {
    api: Arc<SlackApi>,
    link_base: String,
    /// "SLA due in …" is counted from the time of delivery.
    clock: Arc<dyn Clock>,
}

impl SlackTransport {
    pub fn new(api: Arc<SlackApi>, link_base: &str, clock: Arc<dyn Clock>) -> SlackTransport {
        SlackTransport {
            api,
            link_base: link_base.trim_end_matches('/').to_string(),
            clock,
        }
    }

    /// The transport for the dispatcher, when a bot token is configured.
    pub fn from_settings(
        settings: &SlackSettings,
        policy: Policy,
        link_base: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<SlackTransport>, String> {
        if settings.bot_token.is_none() {
            return Ok(None);
        }
        let api = SlackApi::new(&settings.api_url, settings.bot_token.clone(), policy)?;
        Ok(Some(SlackTransport::new(Arc::new(api), link_base, clock)))
    }

    async fn post(&self, n: &Notification) -> Delivered {
        let url = lead_url(&self.link_base, n.lead_id);
        let mut body = blocks::message(n, self.clock.now(), &url);
        body["channel"] = Value::String(n.recipient.clone());
        // Links in the lead's fields stay text: no previews of a prospect's site.
        body["unfurl_links"] = Value::Bool(false);
        body["unfurl_media"] = Value::Bool(false);
        match self.api.call("chat.postMessage", &body).await {
            Ok(answer) => {
                // `channel:ts` is what a later chat.update needs.
                let channel = answer["channel"].as_str().unwrap_or(&n.recipient);
                let external_ref = answer["ts"].as_str().map(|ts| format!("{channel}:{ts}"));
                Delivered::Sent { external_ref }
            }
            Err(CallError::RateLimited(after)) => Delivered::RetryAfter(after),
            Err(CallError::Transient(e)) => Delivered::Failed(e),
            Err(CallError::Permanent(e)) => Delivered::Rejected(e),
        }
    }
}

impl Transport for SlackTransport {
    fn deliver<'a>(
        &'a self,
        n: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Delivered> + Send + 'a>> {
        Box::pin(self.post(n))
    }
}
