//! Outbound HTTP to addresses users configure (webhooks now; Slack and CRM APIs later), safe
//! against SSRF (SECURITY.md): `https` only, never a redirect, and no private, loopback or
//! link-local target — checked on the URL when it is configured, and on every address the
//! name resolves to when a request connects (so DNS rebinding cannot slip past).
//! `webhook_allow_private_networks` allows private and loopback targets and plain `http`.

pub mod addr;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

pub use addr::{reach, Reach};

/// What outbound requests may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Private and loopback targets and plain `http` (on-premise receivers, local mocks).
    pub allow_private: bool,
}

impl Policy {
    pub fn allows(self, ip: std::net::IpAddr) -> bool {
        match reach(ip) {
            Reach::Public => true,
            Reach::Private => self.allow_private,
            Reach::Refused => false,
        }
    }

    /// Checks what can be checked without DNS: scheme, host, and a host that is an IP literal
    /// (reqwest connects to literals without calling the resolver). The error says why, for a
    /// 422 or an attempt's error.
    pub fn check_url(self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw).map_err(|_| "must be an absolute https:// URL".to_string())?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            "http" => return Err("must use https://".into()),
            _ => return Err("must be an absolute https:// URL".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials; they would be sent to the receiver".into());
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err("must name a host".into());
        };
        // IPv6 literals come bracketed; a name that does not parse as an IP is resolved later.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let Ok(ip) = literal.parse::<std::net::IpAddr>() else {
            return Ok(url);
        };
        if self.allows(ip) {
            Ok(url)
        } else {
            Err(refusal(ip))
        }
    }

    /// A client that follows no redirect, uses no proxy (it would hide the real target), gives
    /// up after `timeout`, and, unless private networks are allowed, refuses to connect to a
    /// name that resolves to no allowed address. Check the URL with [`Policy::check_url`]
    /// before each request too.
    pub fn client(self, timeout: Duration) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("salgate/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Checked(self)))
            .build()
    }
}

fn refusal(ip: std::net::IpAddr) -> String {
    match reach(ip) {
        Reach::Private => format!(
            "{ip} is a private or loopback address (allowed only with \
             SALGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true)"
        ),
        _ => format!("{ip} is not a public address"),
    }
}

/// The system resolver, keeping only the addresses the policy allows.
struct Checked(Policy);

impl Resolve for Checked {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                let why = match found.first() {
                    Some(a) => format!(
                        "{host} resolves only to refused addresses: {}",
                        refusal(a.ip())
                    ),
                    None => format!("{host} resolves to no address"),
                };
                return Err(why.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Policy = Policy {
        allow_private: false,
    };
    const LOCAL: Policy = Policy {
        allow_private: true,
    };

    #[test]
    fn urls_are_checked_without_dns() {
        assert!(STRICT.check_url("https://crm.example.com/hook").is_ok());
        assert!(STRICT.check_url("https://93.184.215.14/hook").is_ok());
        for bad in [
            "http://crm.example.com/hook",
            "ftp://crm.example.com",
            "https://user:pw@crm.example.com/",
            "https://127.0.0.1/hook",
            "https://[::ffff:127.0.0.1]:5432/",
            "https://169.254.169.254/latest/meta-data",
            "https://0.0.0.0/",
            "https://[::]/",
            "https://10.0.0.8/",
            "not a url",
        ] {
            assert!(STRICT.check_url(bad).is_err(), "{bad} accepted");
        }
        assert!(LOCAL.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(LOCAL.check_url("http://[::ffff:127.0.0.1]:9000/").is_ok());
        // Allowing private networks never opens link-local (metadata) or unspecified.
        assert!(LOCAL.check_url("http://169.254.169.254/").is_err());
        assert!(LOCAL.check_url("http://0.0.0.0:9000/").is_err());
    }

    #[tokio::test]
    async fn the_resolver_drops_addresses_the_policy_refuses() {
        let name: Name = "localhost".parse().unwrap();
        let refused = Checked(STRICT).resolve(name).await;
        let err = refused.err().expect("localhost refused").to_string();
        assert!(err.contains("localhost resolves only to"), "{err}");
        let name: Name = "localhost".parse().unwrap();
        let allowed: Vec<SocketAddr> = Checked(LOCAL).resolve(name).await.unwrap().collect();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()), "{allowed:?}");
        assert!(!allowed.is_empty());
    }
}
