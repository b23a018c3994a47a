//! Which account a lead belongs to (docs/api.md, "Accounts"): its company's domain; else its
//! email's domain, unless that is a free-mail or disposable provider's; else its company's
//! name with case, punctuation and legal suffixes folded away. The key is what accounts are
//! stored and found by, so two spellings of one company meet at one account.

use std::{collections::HashSet, sync::LazyLock};

use super::lead_input::NewLead;

/// A lead's account as ingest finds or creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountKey {
    /// `domain:acme.io` or `name:acme`: what the account is stored under.
    pub match_key: String,
    /// The company's name as the lead gives it (else the domain): the account's display name.
    pub name: String,
    pub domain: Option<String>,
}

/// Legal-form suffixes dropped from a company name (compared after folding, as whole words at
/// the end, repeatedly: "Acme Holdings Co., Ltd." is "acme holdings").
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "ug",
    "se",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy",
    "ab",
    "as",
    "aps",
    "pty",
    "pte",
    "kk",
    "sl",
    "sro",
    "doo",
    "oü",
];

impl AccountKey {
    /// The account key of `lead`, or `None` when it names neither a usable domain nor a
    /// company.
    pub fn of(lead: &NewLead) -> Option<AccountKey> {
        let company = lead.company.as_ref();
        let name = company.and_then(|c| c.name.as_deref()).map(str::trim);
        let name = name.filter(|n| !n.is_empty());
        let company_domain = company.and_then(|c| c.domain.as_deref()).and_then(domain);
        let email_domain = lead
            .email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .and_then(|(_, d)| domain(d))
            .filter(|d| !is_free_mail(d));
        if let Some(d) = company_domain.filter(|d| !is_free_mail(d)).or(email_domain) {
            return Some(AccountKey {
                match_key: format!("domain:{d}"),
                name: name.map_or_else(|| d.clone(), str::to_owned),
                domain: Some(d),
            });
        }
        let folded = fold_name(name?)?;
        Some(AccountKey {
            match_key: format!("name:{folded}"),
            name: name?.to_owned(),
            domain: None,
        })
    }
}

/// Whether the lead's email is at a free-mail or disposable provider (rules' `free_mail`).
pub fn free_mail(lead: &NewLead) -> bool {
    email_is_free_mail(lead.email.as_deref())
}

/// Whether `email` is at a free-mail or disposable provider (a stored lead's email, for the
/// rules' backtest; `free_mail` for a lead being ingested).
pub fn email_is_free_mail(email: Option<&str>) -> bool {
    email
        .and_then(|e| e.rsplit_once('@'))
        .is_some_and(|(_, d)| is_free_mail(d))
}

/// Whether mail at `domain` says nothing about an employer: a free-mail provider (gmail.com)
/// or a disposable one (mailinator.com), from the maintained list vendored in
/// `assets/vendor/free-email-domains.json`. A subdomain of a listed domain is listed too.
pub fn is_free_mail(domain: &str) -> bool {
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    let set = &*FREE_MAIL;
    let mut rest = d.as_str();
    loop {
        if set.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

/// The vendored list, parsed on first use (a JSON array of about 4,700 domains).
static FREE_MAIL: LazyLock<HashSet<String>> = LazyLock::new(|| {
    serde_json::from_str::<Vec<String>>(FREE_MAIL_JSON)
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.to_lowercase())
        .collect()
});

const FREE_MAIL_JSON: &str = include_str!("../../assets/vendor/free-email-domains.json");

/// A host name from a domain or a URL: lower case, without scheme, `www.`, port, path or a
/// trailing dot. `None` for text that is not a dotted host name.
pub fn domain(raw: &str) -> Option<String> {
    let s = raw.trim().to_lowercase();
    let s = s.split_once("://").map_or(s.as_str(), |(_, rest)| rest);
    let s = s.split(['/', '?', '#']).next().unwrap_or_default();
    let s = s.rsplit_once('@').map_or(s, |(_, host)| host);
    let s = s
        .split(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('.');
    let s = s.strip_prefix("www.").unwrap_or(s);
    let labels_ok = s.split('.').count() >= 2
        && s.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    labels_ok.then(|| s.to_owned())
}

/// A company name folded for matching: lower case, letters and digits only, `&` as `and`,
/// legal suffixes dropped. `None` when nothing but a suffix or punctuation is left.
pub fn fold_name(name: &str) -> Option<String> {
    let lowered = name.to_lowercase().replace('&', " and ");
    let mut words: Vec<String> = lowered
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-' || c == '/')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    while words.len() > 1 && LEGAL_SUFFIXES.contains(&words[words.len() - 1].as_str()) {
        words.pop();
    }
    if words.len() == 1 && LEGAL_SUFFIXES.contains(&words[0].as_str()) {
        return None;
    }
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_suffixes_case_and_punctuation_fold_away() {
        let acme = Some("acme".to_owned());
        for n in [
            "Acme",
            "ACME Inc.",
            "Acme, Inc",
            "acme GmbH",
            "Acme Ltd.",
            "Acme Co., Ltd.",
        ] {
            assert_eq!(fold_name(n), acme, "{n}");
        }
        assert_eq!(
            fold_name("Procter & Gamble Co.").as_deref(),
            Some("procter and gamble")
        );
        assert_eq!(fold_name("Inc."), None);
        assert_eq!(fold_name("--"), None);
    }

    #[test]
    fn domains_come_from_urls_and_hosts() {
        for d in [
            "acme.io",
            "https://www.Acme.io/about",
            "ACME.IO.",
            "acme.io:443",
        ] {
            assert_eq!(domain(d).as_deref(), Some("acme.io"), "{d}");
        }
        assert_eq!(domain("localhost"), None);
        assert_eq!(domain("acme..io"), None);
    }

    #[test]
    fn free_and_disposable_mail_domains_are_known() {
        assert!(is_free_mail("gmail.com"));
        assert!(is_free_mail("Yahoo.com"));
        assert!(is_free_mail("mailinator.com"));
        assert!(is_free_mail("eu.mailinator.com"));
        assert!(!is_free_mail("acme.io"));
        assert!(FREE_MAIL.len() > 1000, "the vendored list parses");
    }
}
