//! Who may post Salesforce Outbound Messages. Organization ids are public (every Web-to-Lead
//! form shows one), so they identify but do not authenticate: the configured Outbound Message
//! URL carries a secret `?token=` (Salesforce cannot add headers), compared in constant time,
//! and the sender's address may be restricted to Salesforce's networks.

use std::{collections::HashMap, net::IpAddr};

use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::IntegrationSettings;

/// Why a message is refused before its body is read: status and SOAP fault text.
pub type Refusal = (StatusCode, &'static str);

/// Checks the sender's network and the URL's token, before the body is parsed.
pub fn admit(
    settings: &IntegrationSettings,
    peer: Option<IpAddr>,
    query: &HashMap<String, String>,
) -> Result<(), Refusal> {
    let nets = &settings.salesforce_allowed_networks;
    if !nets.is_empty() && !peer.is_some_and(|ip| nets.iter().any(|n| n.contains(ip))) {
        return Err((
            StatusCode::FORBIDDEN,
            "messages are accepted only from SALGATE_SALESFORCE_ALLOWED_NETWORKS",
        ));
    }
    // Start-up refuses an org id without a token; a missing one here refuses everything.
    let expected = settings.salesforce_token.as_deref();
    let given = query.get("token").map(String::as_str);
    match (expected, given) {
        (Some(expected), Some(given)) if same_secret(expected, given) => Ok(()),
        (_, None) => Err((
            StatusCode::UNAUTHORIZED,
            "the Outbound Message URL must carry ?token=<SALGATE_SALESFORCE_TOKEN>",
        )),
        _ => Err((StatusCode::UNAUTHORIZED, "wrong token")),
    }
}

/// Constant time whatever the lengths: digests of equal length are compared.
fn same_secret(expected: &str, given: &str) -> bool {
    Sha256::digest(expected.as_bytes())
        .ct_eq(&Sha256::digest(given.as_bytes()))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::network::parse_list;

    fn settings(nets: &str) -> IntegrationSettings {
        IntegrationSettings {
            salesforce_org_id: Some("00D5g000004ABCDEA4".into()),
            salesforce_token: Some("t".repeat(32)),
            salesforce_allowed_networks: parse_list(nets).unwrap(),
            ..Default::default()
        }
    }

    fn q(token: Option<&str>) -> HashMap<String, String> {
        token
            .map(|t| HashMap::from([("token".to_string(), t.to_string())]))
            .unwrap_or_default()
    }

    #[test]
    fn the_token_is_required_and_must_match() {
        let s = settings("");
        let peer = Some(IpAddr::from([198, 51, 100, 1]));
        assert!(admit(&s, peer, &q(Some(&"t".repeat(32)))).is_ok());
        assert_eq!(admit(&s, peer, &q(None)).unwrap_err().0, 401);
        assert_eq!(
            admit(&s, peer, &q(Some(&"t".repeat(31)))).unwrap_err().0,
            401
        );
        assert_eq!(admit(&s, peer, &q(Some(""))).unwrap_err().0, 401);
        let no_token = IntegrationSettings {
            salesforce_token: None,
            ..s
        };
        assert_eq!(admit(&no_token, peer, &q(Some(""))).unwrap_err().0, 401);
    }

    #[test]
    fn an_allow_list_refuses_other_senders() {
        let s = settings("13.108.0.0/14");
        let token = q(Some(&"t".repeat(32)));
        assert!(admit(&s, Some(IpAddr::from([13, 110, 1, 1])), &token).is_ok());
        assert_eq!(
            admit(&s, Some(IpAddr::from([127, 0, 0, 1])), &token)
                .unwrap_err()
                .0,
            403
        );
        assert_eq!(admit(&s, None, &token).unwrap_err().0, 403);
    }
}
