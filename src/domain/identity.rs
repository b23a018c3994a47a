//! The keys a lead's possible duplicates are found by (docs/api.md, "Duplicates"): its email
//! as its provider delivers it, its phone in E.164, and its person at its account. Two leads
//! with one equal key are possible duplicates; the keys are stored with the lead and looked up
//! through an index, never compared by scanning.

use phonenumber::country::Id as Country;

use super::{account_key::AccountKey, lead_input::NewLead};

/// Providers that ignore dots in the local part (`j.doe@gmail.com` is `jdoe@gmail.com`).
const DOTS_IGNORED: &[&str] = &["gmail.com", "googlemail.com"];

/// Providers that deliver `name+tag@…` to `name@…` (subaddressing). A provider not listed
/// may treat `+` as an ordinary character, so the tag is kept there.
const PLUS_TAGS_IGNORED: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "fastmail.com",
    "fastmail.fm",
    "protonmail.com",
    "proton.me",
    "pm.me",
    "zoho.com",
    "yandex.com",
    "yandex.ru",
];

/// The mailbox an address delivers to: lower case; dots and `+tags` dropped only where the
/// provider ignores them; `googlemail.com` is `gmail.com`. `None` for text without one `@`
/// between a non-empty local part and domain.
pub fn email_key(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || local.contains('@') {
        return None;
    }
    let domain = if domain == "googlemail.com" {
        "gmail.com"
    } else {
        domain
    };
    let mut local = local.to_owned();
    if PLUS_TAGS_IGNORED.contains(&domain) {
        if let Some((base, _tag)) = local.split_once('+') {
            local = base.to_owned();
        }
    }
    if DOTS_IGNORED.contains(&domain) {
        local.retain(|c| c != '.');
    }
    (!local.is_empty()).then(|| format!("{local}@{domain}"))
}

/// The number in E.164 (`+441632960961`): an international number as written, a national one
/// read in the lead's country (ISO 3166-1 alpha-2 in `company.country`). `None` when it is
/// not a valid number.
pub fn phone_key(phone: &str, country: Option<&str>) -> Option<String> {
    let region = country.and_then(|c| c.trim().to_uppercase().parse::<Country>().ok());
    let number = phonenumber::parse(region, phone).ok()?;
    phonenumber::is_valid(&number)
        .then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

/// The same person at the same account, whatever the source: first and last name folded to
/// lower-case letters and digits, and the account's key. `None` without both names and an
/// account.
pub fn person_key(first: &str, last: &str, account: &AccountKey) -> Option<String> {
    let fold = |s: &str| -> String {
        s.chars()
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric())
            .collect()
    };
    let (first, last) = (fold(first), fold(last));
    (!first.is_empty() && !last.is_empty()).then(|| format!("{first} {last}|{}", account.match_key))
}

/// A lead's duplicate keys and account key, computed once per ingest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub email_key: Option<String>,
    pub phone_key: Option<String>,
    pub person_key: Option<String>,
    pub account: Option<AccountKey>,
}

impl Identity {
    pub fn of(lead: &NewLead) -> Identity {
        let company = lead.company.as_ref();
        let account = AccountKey::of(lead);
        let person_key = match (&lead.first_name, &lead.last_name, &account) {
            (Some(f), Some(l), Some(a)) => person_key(f, l, a),
            _ => None,
        };
        Identity {
            email_key: lead.email.as_deref().and_then(email_key),
            phone_key: lead
                .phone
                .as_deref()
                .and_then(|p| phone_key(p, company.and_then(|c| c.country.as_deref()))),
            person_key,
            account,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_ignores_dots_plus_tags_and_case() {
        assert_eq!(
            email_key("Jane.Doe+webinar@GoogleMail.com").as_deref(),
            Some("janedoe@gmail.com")
        );
        assert_eq!(
            email_key("j.a.n.e.doe@gmail.com"),
            email_key("janedoe@gmail.com")
        );
    }

    #[test]
    fn outlook_ignores_plus_tags_but_not_dots() {
        assert_eq!(
            email_key("jane.doe+x@outlook.com").as_deref(),
            Some("jane.doe@outlook.com")
        );
        assert_ne!(
            email_key("jane.doe@outlook.com"),
            email_key("janedoe@outlook.com")
        );
    }

    #[test]
    fn a_company_domain_keeps_dots_and_plus_signs() {
        assert_eq!(
            email_key("Jane.Doe+Ops@Acme.io").as_deref(),
            Some("jane.doe+ops@acme.io")
        );
    }

    #[test]
    fn text_without_a_mailbox_has_no_key() {
        for bad in ["", "jane", "@acme.io", "jane@", "+@gmail.com"] {
            assert_eq!(email_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn phones_written_differently_have_one_e164_key() {
        let want = Some("+14155552671".to_owned());
        assert_eq!(phone_key("+1 (415) 555-2671", None), want);
        assert_eq!(phone_key("415.555.2671", Some("US")), want);
        assert_eq!(phone_key("00 1 415 555 2671", Some("DE")), want);
        assert_eq!(
            phone_key("020 7946 0958", Some("gb")),
            phone_key("+44 20 7946 0958", None)
        );
        assert_eq!(phone_key("12", Some("US")), None);
        assert_eq!(phone_key("not a phone", None), None);
    }

    #[test]
    fn a_person_key_needs_both_names_and_folds_them() {
        let acme = AccountKey {
            match_key: "domain:acme.io".into(),
            name: "Acme".into(),
            domain: Some("acme.io".into()),
        };
        assert_eq!(
            person_key("Jane ", "O'Brien", &acme).as_deref(),
            Some("jane obrien|domain:acme.io")
        );
        assert_eq!(person_key("", "Doe", &acme), None);
    }
}
