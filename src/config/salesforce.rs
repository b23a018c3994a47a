//! The Salesforce settings, checked together: an org id needs a token (org ids are public).

use super::{invalid, ConfigError};
use crate::domain::{
    network::{self, Network},
    salesforce_id,
};

/// The org id in its 18-character form, the token, and the allowed sender networks.
type Salesforce = (Option<String>, Option<String>, Vec<Network>);

pub(super) fn settings(
    org_id: Option<String>,
    token: Option<String>,
    networks: &str,
) -> Result<Salesforce, ConfigError> {
    let org_id = org_id
        .map(|id| {
            salesforce_id::to_18(id.trim()).ok_or_else(|| {
                invalid(
                    "salesforce_org_id",
                    "must be a 15- or 18-character Salesforce organization id",
                )
            })
        })
        .transpose()?;
    if org_id.is_some() && token.as_ref().is_none_or(|t| t.len() < 32) {
        return Err(invalid(
            "salesforce_token",
            "is required (32+ characters) when SALGATE_SALESFORCE_ORG_ID is set: \
             the Outbound Message URL must carry it as ?token=",
        ));
    }
    let networks = network::parse_list(networks).map_err(|bad| {
        invalid(
            "salesforce_allowed_networks",
            format!("`{bad}` is not a network like 13.108.0.0/14 or an address"),
        )
    })?;
    Ok((org_id, token, networks))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn env_of(r: Result<Salesforce, ConfigError>) -> String {
        r.unwrap_err().env
    }

    #[test]
    fn an_org_id_needs_a_token_and_a_valid_suffix() {
        let org = || Some("00D5g000004ABCD".to_string());
        assert_eq!(
            env_of(settings(org(), None, "")),
            "SALGATE_SALESFORCE_TOKEN"
        );
        let short = Some(TOKEN[1..].to_string());
        assert_eq!(
            env_of(settings(org(), short, "")),
            "SALGATE_SALESFORCE_TOKEN"
        );
        let (id, _, _) = settings(org(), Some(TOKEN.into()), "").unwrap();
        assert_eq!(id.as_deref(), Some("00D5g000004ABCDEA4"));
        let typo = Some("00D5g000004ABCDEAA".to_string());
        let err = env_of(settings(typo, Some(TOKEN.into()), ""));
        assert_eq!(err, "SALGATE_SALESFORCE_ORG_ID");
    }

    #[test]
    fn a_malformed_network_is_named() {
        let err = settings(None, None, "13.108.0.0/14, nope").unwrap_err();
        assert_eq!(err.env, "SALGATE_SALESFORCE_ALLOWED_NETWORKS");
        assert!(err.message.contains("`nope`"), "{err}");
    }
}
