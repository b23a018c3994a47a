//! The opaque `cursor` of `GET /v1/leads`: the last listed lead's id, versioned so its form can
//! change without a client noticing.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use uuid::Uuid;

pub fn encode(after: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{after}"))
}

/// `None` for anything [`encode`] did not produce.
pub fn decode(cursor: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("v1:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_decodes_to_the_id_it_was_made_from_and_nothing_else_decodes() {
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(id)), Some(id));
        assert_eq!(decode(&id.to_string()), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode(format!("v2:{id}"))), None);
        assert_eq!(decode("%%%"), None);
    }
}
