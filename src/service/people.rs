//! People's sign-in to the pages: one-time links an admin makes, API keys, and the sessions
//! either opens (docs/pages.md). The pages, the settings page and `salgate users invite` all
//! come through here.

use chrono::Duration;
use uuid::Uuid;

use super::{Caller, Error, Result, Service};
use crate::{
    db::{
        api_keys,
        sessions::{self, NewSession, Session, SignInLink, LINK_PREFIX, SESSION_PREFIX},
    },
    domain::{validation::SlugKind, Actor, Role},
};

/// How long a session lasts after sign-in; then its holder signs in again.
pub const SESSION_TTL: Duration = Duration::hours(12);
/// How long a sign-in link may wait to be used (once).
pub const LINK_TTL: Duration = Duration::days(7);

/// A session's holder as the use cases see them.
pub fn caller(session: &Session) -> Caller {
    Caller {
        actor: Actor {
            role: session.role,
            rep: session.rep_id.clone(),
        },
        // Opened with a key, the session acts as that key does in the API; else the history
        // names the session (whose row names its link).
        label: match session.api_key_id {
            Some(key) => format!("key:{key}"),
            None => format!("session:{}", session.id),
        },
    }
}

/// The role and rep a person signs in as: `sdr` needs a rep, other roles take none; `ingest`
/// is for CRMs, not people.
pub fn person(role: Role, rep: Option<&str>) -> Result<(Role, Option<String>)> {
    let rep = rep.map(str::trim).filter(|r| !r.is_empty());
    match (role, rep) {
        (Role::Ingest, _) => Err(Error::field(
            "role",
            "ingest is for CRMs; people sign in as sdr, revops or admin",
        )),
        (Role::Sdr, None) => Err(Error::field("rep", "an sdr signs in as one rep")),
        (Role::Sdr, Some(rep)) => match SlugKind::Id.parse(rep) {
            Ok(rep) => Ok((role, Some(rep.to_string()))),
            Err(rule) => Err(Error::field("rep", rule)),
        },
        (_, Some(_)) => Err(Error::field("rep", "only an sdr signs in as a rep")),
        (_, None) => Ok((role, None)),
    }
}

impl Service {
    /// Makes a one-time sign-in link for `role` (and `rep`, for an sdr), valid for
    /// [`LINK_TTL`]. Returns it with its token, which exists only in this answer.
    pub async fn create_sign_in_link(
        &self,
        created_by: &str,
        role: Role,
        rep: Option<&str>,
    ) -> Result<(SignInLink, String)> {
        let (role, rep) = person(role, rep)?;
        let now = self.clock.now();
        let made = sessions::create_link(
            &self.db,
            role,
            rep.as_deref(),
            created_by,
            now,
            now + LINK_TTL,
        )
        .await?;
        Ok(made)
    }

    /// The link of `token` if it can still be used (the page asking to confirm the sign-in).
    pub async fn usable_link(&self, token: &str) -> Result<Option<SignInLink>> {
        if !sessions::is_well_formed(token, LINK_PREFIX) {
            return Ok(None);
        }
        let now = self.clock.now();
        let link = sessions::find_link(&self.db, token).await?;
        Ok(link.filter(|l| l.used_at.is_none() && l.expires_at > now))
    }

    /// Signs in with a link: it opens exactly one session, once. `None` when the link is
    /// unknown, already used or expired.
    pub async fn sign_in_with_link(&self, token: &str) -> Result<Option<(Session, String)>> {
        if !sessions::is_well_formed(token, LINK_PREFIX) {
            return Ok(None);
        }
        let now = self.clock.now();
        Ok(sessions::use_link(&self.db, token, now, now + SESSION_TTL).await?)
    }

    /// Signs in with an API key of role sdr, revops or admin; the session ends when the key
    /// is revoked.
    pub async fn sign_in_with_key(&self, token: &str) -> Result<(Session, String)> {
        let refused = || Error::field("api_key", "unknown or revoked API key");
        let token = token.trim();
        if !api_keys::is_well_formed(token) {
            return Err(refused());
        }
        let key = api_keys::find_active_by_token(&self.db, token)
            .await?
            .ok_or_else(refused)?;
        if key.role == Role::Ingest {
            return Err(Error::field(
                "api_key",
                "an ingest key is for CRMs; sign in with an sdr, revops or admin key",
            ));
        }
        let now = self.clock.now();
        let new = NewSession {
            role: key.role,
            rep: key.rep_id.as_deref(),
            api_key_id: Some(key.id),
            sign_in_link_id: None,
        };
        Ok(sessions::create_session(&self.db, &new, now, now + SESSION_TTL).await?)
    }

    /// The live session of a cookie's token.
    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        if !sessions::is_well_formed(token, SESSION_PREFIX) {
            return Ok(None);
        }
        Ok(sessions::find_live(&self.db, token, self.clock.now()).await?)
    }

    pub async fn sign_out(&self, session: Uuid) -> Result<()> {
        Ok(sessions::sign_out(&self.db, session, self.clock.now()).await?)
    }

    /// The newest sign-in links (settings page).
    pub async fn recent_sign_in_links(&self) -> Result<Vec<SignInLink>> {
        Ok(sessions::list_links(&self.db, 50).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_sign_in_as_sdr_with_a_rep_or_as_revops_and_admin_without() {
        assert_eq!(
            person(Role::Sdr, Some(" rep-1 ")).unwrap(),
            (Role::Sdr, Some("rep-1".into()))
        );
        assert_eq!(
            person(Role::Revops, Some("")).unwrap(),
            (Role::Revops, None)
        );
        assert_eq!(person(Role::Admin, None).unwrap(), (Role::Admin, None));
    }

    #[test]
    fn ingest_a_repless_sdr_and_a_rep_for_revops_are_refused_naming_the_field() {
        let field = |r: Result<_>| match r {
            Err(Error::Validation(e)) => e[0].field.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(person(Role::Ingest, None)), "role");
        assert_eq!(field(person(Role::Sdr, None)), "rep");
        assert_eq!(field(person(Role::Sdr, Some("Not A Slug!"))), "rep");
        assert_eq!(field(person(Role::Revops, Some("rep-1"))), "rep");
    }
}
