//! Email through SMTP with `lettre` (tokio, rustls): `smtp://` upgrades with STARTTLS (required),
//! `smtps://` is TLS from the first byte; credentials come from the URL. Plain SMTP without TLS
//! only with `SALGATE_SMTP_ALLOW_PLAINTEXT` (a relay on this host, tests). The SMTP host is the
//! operator's own setting, not an address users configure, so it may be private or loopback
//! (docs/notifications.md says why).

use std::{future::Future, pin::Pin, time::Duration};

use lettre::{
    message::{Mailbox, MultiPart},
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use super::{message, Delivered, Notification, Transport};

/// An SMTP server must finish one message within this.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// What the email transport is built from.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `smtp://[user:pass@]host[:port]` (STARTTLS, default port 587) or `smtps://…` (TLS, 465).
    pub url: String,
    /// The From address (`Salgate <salgate@example.com>` or a bare address).
    pub from: String,
    /// `smtp://` without STARTTLS.
    pub allow_plaintext: bool,
}

/// Sends email notifications.
pub struct EmailTransport {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Lead links start with this (`SALGATE_PUBLIC_URL`, else the address served on).
    link_base: String,
}

impl EmailTransport {
    /// Checks the URL and the From address; the error says what is wrong (start-up stops).
    pub fn new(s: &EmailSettings, link_base: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(&s.url)
            .map_err(|_| "must be a URL like smtp://user:pass@host:587".to_string())?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("must name a host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls_params = || TlsParameters::new(host.clone()).map_err(|e| e.to_string());
        let (tls, default_port) = match url.scheme() {
            "smtps" => (Tls::Wrapper(tls_params()?), 465),
            "smtp" if s.allow_plaintext => (Tls::None, 25),
            "smtp" => (Tls::Required(tls_params()?), 587),
            _ => return Err("must start with smtp:// (STARTTLS) or smtps:// (TLS)".into()),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if !url.username().is_empty() {
            let user = decode(url.username());
            let pass = decode(url.password().unwrap_or(""));
            builder = builder.credentials(Credentials::new(user, pass));
        }
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| format!("SALGATE_EMAIL_FROM is not an address: {e}"))?;
        Ok(EmailTransport {
            mailer: builder.build(),
            from,
            link_base: link_base.to_string(),
        })
    }

    /// The message for `n`: subject per kind, plain text and HTML, the link to the lead.
    pub fn message(&self, n: &Notification) -> Result<Message, String> {
        let to: Mailbox = n
            .recipient
            .parse()
            .map_err(|e| format!("not an email address: {e}"))?;
        let link = message::lead_link(&self.link_base, n);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message::subject(n))
            .multipart(MultiPart::alternative_plain_html(
                message::plain(n, &link),
                message::html_body(n, &link).into_string(),
            ))
            .map_err(|e| format!("could not build the message: {e}"))
    }

    async fn send(&self, n: &Notification) -> Delivered {
        let msg = match self.message(n) {
            Ok(m) => m,
            Err(why) => return Delivered::Rejected(why),
        };
        match self.mailer.send(msg).await {
            Ok(_) => Delivered::Sent { external_ref: None },
            // 5xx: the server will never take it (unknown mailbox, refused sender).
            Err(e) if e.is_permanent() => Delivered::Rejected(format!("SMTP refused: {e}")),
            Err(e) => Delivered::Failed(format!("SMTP: {e}")),
        }
    }
}

impl Transport for EmailTransport {
    fn deliver<'a>(
        &'a self,
        n: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Delivered> + Send + 'a>> {
        Box::pin(self.send(n))
    }
}

/// A percent-encoded URL part (`p%40ss` in a password is `p@ss`).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> EmailSettings {
        EmailSettings {
            url: url.into(),
            from: "Salgate <salgate@example.com>".into(),
            allow_plaintext: false,
        }
    }

    #[test]
    fn urls_and_credentials() {
        assert!(EmailTransport::new(&settings("smtp://mail.example.com"), "x").is_ok());
        assert!(EmailTransport::new(&settings("smtps://u:p%40ss@mail.example.com"), "x").is_ok());
        assert!(EmailTransport::new(&settings("http://mail.example.com"), "x").is_err());
        assert!(EmailTransport::new(&settings("not a url"), "x").is_err());
        let mut bad_from = settings("smtp://mail.example.com");
        bad_from.from = "nobody".into();
        assert!(EmailTransport::new(&bad_from, "x").is_err());
        assert_eq!(decode("p%40ss%zz"), "p@ss%zz");
    }
}
