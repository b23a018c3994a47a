//! Who is acting: the role of the API key and, for SDR keys, the rep it is bound to.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A CRM or integration that posts leads.
    Ingest,
    /// A sales development rep; the key is bound to one rep id.
    Sdr,
    /// Revenue operations: owns taxonomy and policies, reads metrics, may decide on behalf of reps.
    Revops,
    /// Everything, including API keys.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Ingest, Role::Sdr, Role::Revops, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Sdr => "sdr",
            Role::Revops => "revops",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller, as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    /// The rep an `sdr` key is bound to; `None` for other roles.
    pub rep: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The roles of docs/api.md §5, written out here: `as_str`, `parse`, `Display` and serde
    /// agree with these names, and nothing else parses.
    #[test]
    fn roles_have_their_documented_names() {
        let roles = [
            (Role::Ingest, "ingest"),
            (Role::Sdr, "sdr"),
            (Role::Revops, "revops"),
            (Role::Admin, "admin"),
        ];
        for (role, name) in roles {
            assert_eq!(role.as_str(), name);
            assert_eq!(role.to_string(), name);
            assert_eq!(serde_json::to_value(role).unwrap(), name);
            assert_eq!(Role::parse(name), Some(role));
        }
        for other in ["Admin", "", "xyzzy", "admin "] {
            assert_eq!(Role::parse(other), None, "{other:?}");
        }
    }
}
