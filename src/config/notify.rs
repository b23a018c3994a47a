//! The notification settings (email and Slack), checked together (moved out of `mod.rs`
//! unchanged; the CRM write-back settings are in `crm.rs`).

use super::{invalid, non_empty, ConfigError, Raw};

/// The Slack settings; the API URL must be one the outbound rules let the service reach.
pub(super) fn slack(raw: &Raw) -> Result<crate::notify::slack::SlackSettings, ConfigError> {
    let policy = crate::outbound::Policy {
        allow_private: raw.webhook_allow_private_networks,
    };
    let api_url = raw.slack_api_url.trim().trim_end_matches('/').to_string();
    policy
        .check_url(&api_url)
        .map_err(|why| invalid("slack_api_url", why))?;
    Ok(crate::notify::slack::SlackSettings {
        bot_token: non_empty(raw.slack_bot_token.clone()),
        signing_secret: non_empty(raw.slack_signing_secret.clone()),
        api_url,
    })
}

/// The SMTP URL and From address: both or neither; the URL checked as the transport reads it.
pub(super) fn email(raw: &Raw) -> Result<(Option<String>, Option<String>), ConfigError> {
    let url = non_empty(raw.smtp_url.clone());
    let from = non_empty(raw.email_from.clone());
    let (Some(url), Some(from)) = (url.clone(), from.clone()) else {
        if url.is_some() {
            return Err(invalid("email_from", "is required with SALGATE_SMTP_URL"));
        }
        return Ok((None, from));
    };
    let settings = crate::notify::email::EmailSettings {
        url: url.clone(),
        from: from.clone(),
        allow_plaintext: raw.smtp_allow_plaintext,
    };
    if let Err(why) = crate::notify::email::EmailTransport::new(&settings, "") {
        let key = if why.starts_with("SALGATE_EMAIL_FROM") {
            "email_from"
        } else {
            "smtp_url"
        };
        return Err(invalid(key, why));
    }
    Ok((Some(url), Some(from)))
}
