//! Slack (issue 17): notifications posted with the Web API and Block Kit buttons
//! ([`SlackTransport`]), and what the interactivity endpoint
//! (`POST /v1/integrations/slack/interactions`, `src/http/integrations/slack.rs`) needs to
//! answer clicks: the API client, the signing secret, and the tasks it leaves running after
//! acking (message updates, ephemeral replies), which shutdown waits for.

pub mod api;
pub mod blocks;
mod transport;

use std::sync::Arc;

use tokio_util::task::TaskTracker;

pub use api::{CallError, SlackApi};
pub use transport::SlackTransport;

use crate::{clock::Clock, outbound::Policy};

/// `SALGATE_SLACK_*`.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// `SALGATE_SLACK_BOT_TOKEN` (`xoxb-…`): posts, updates, opens modals.
    pub bot_token: Option<String>,
    /// `SALGATE_SLACK_SIGNING_SECRET`: verifies interactions; without it the endpoint is 404.
    pub signing_secret: Option<String>,
    /// `SALGATE_SLACK_API_URL`, default `https://slack.com/api`.
    pub api_url: String,
}

/// What the interactivity endpoint shares, one per replica.
pub struct Slack {
    pub api: Arc<SlackApi>,
    pub signing_secret: String,
    /// The base of links to the lead pages (`SALGATE_PUBLIC_URL`, else the address served on).
    pub link_base: String,
    /// Work left running after an interaction was acked.
    tasks: TaskTracker,
}

impl Slack {
    /// The interactivity state, when a signing secret is configured.
    pub fn new(
        settings: &SlackSettings,
        policy: Policy,
        link_base: &str,
    ) -> Result<Option<Slack>, String> {
        let Some(secret) = settings.signing_secret.clone() else {
            return Ok(None);
        };
        let api = SlackApi::new(&settings.api_url, settings.bot_token.clone(), policy)?;
        Ok(Some(Slack {
            api: Arc::new(api),
            signing_secret: secret,
            link_base: link_base.trim_end_matches('/').to_string(),
            tasks: TaskTracker::new(),
        }))
    }

    /// The lead's page.
    pub fn lead_url(&self, lead: uuid::Uuid) -> String {
        lead_url(&self.link_base, lead)
    }

    /// Runs `work` after the answer to Slack has gone (Slack wants one within 3 s); shutdown
    /// waits for it ([`Slack::drain`]).
    pub fn after_ack(
        &self,
        what: &'static str,
        work: impl std::future::Future<Output = Result<(), CallError>> + Send + 'static,
    ) {
        self.tasks.spawn(async move {
            if let Err(e) = work.await {
                tracing::warn!(error = %e, "slack: {what} failed");
            }
        });
    }

    /// Waits, until `deadline`, for the work left running after acks; true when it all ended.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> bool {
        self.tasks.close();
        tokio::time::timeout_at(deadline, self.tasks.wait())
            .await
            .is_ok()
    }

    /// The transport for the notification dispatcher, sharing this client.
    pub fn transport(&self, clock: Arc<dyn Clock>) -> SlackTransport {
        SlackTransport::new(self.api.clone(), &self.link_base, clock)
    }
}

/// `{base}/app/leads/{id}`: the lead page of `src/pages/inbox`.
pub fn lead_url(base: &str, lead: uuid::Uuid) -> String {
    format!("{}/app/leads/{lead}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn slack() -> Slack {
        let settings = SlackSettings {
            bot_token: None,
            signing_secret: Some("s".into()),
            api_url: "https://slack.com/api".into(),
        };
        Slack::new(&settings, Policy::default(), "https://x")
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn shutdown_waits_for_the_work_left_after_an_ack() {
        let slack = slack();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        slack.after_ack("test", async move {
            let _ = rx.await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        let soon = tokio::time::Instant::now() + Duration::from_millis(50);
        assert!(!slack.drain(soon).await, "still running: not drained");
        tx.send(()).unwrap();
        let later = tokio::time::Instant::now() + Duration::from_secs(5);
        assert!(slack.drain(later).await);
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn no_signing_secret_no_endpoint() {
        let settings = SlackSettings {
            bot_token: Some("xoxb".into()),
            signing_secret: None,
            api_url: "https://slack.com/api".into(),
        };
        assert!(Slack::new(&settings, Policy::default(), "x")
            .unwrap()
            .is_none());
        let bad = SlackSettings {
            api_url: "http://127.0.0.1:1/api".into(),
            signing_secret: Some("s".into()),
            ..settings
        };
        assert!(
            Slack::new(&bad, Policy::default(), "x").is_err(),
            "loopback refused"
        );
    }
}
