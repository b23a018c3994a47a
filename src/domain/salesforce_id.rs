//! Salesforce record ids: 15 case-sensitive characters, or 18 with a three-character suffix
//! that encodes the case of the first 15 (so the 18-character form survives case-insensitive
//! systems). Ids are compared in their 18-character form, exactly.

const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The checksum suffix of a 15-character id: for each block of five characters, a 5-bit
/// number whose bit i says whether character i is an upper-case letter.
fn suffix(id15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (block, chars) in id15.chunks(5).enumerate().take(3) {
        let bits = chars
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | 1 << i);
        out[block] = SUFFIX[bits];
    }
    out
}

/// The 18-character form of a 15- or 18-character id; `None` if `id` is neither, has a
/// character other than ASCII letters and digits, or (18 characters) a suffix that does not
/// match its first 15 (a typo).
pub fn to_18(id: &str) -> Option<String> {
    let b = id.as_bytes();
    if !(b.len() == 15 || b.len() == 18) || !b.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let sfx = suffix(&b[..15]);
    if b.len() == 18 && b[15..] != sfx {
        return None;
    }
    let mut out = id[..15].to_string();
    out.extend(sfx.iter().map(|&c| char::from(c)));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_follows_salesforces_algorithm() {
        // Salesforce's documented example pair.
        assert_eq!(
            to_18("0015000000Gv7qJ").as_deref(),
            Some("0015000000Gv7qJAAR")
        );
        assert_eq!(
            to_18("0015000000Gv7qJAAR").as_deref(),
            Some("0015000000Gv7qJAAR")
        );
        assert_eq!(
            to_18("00D5g000004ABCD").as_deref(),
            Some("00D5g000004ABCDEA4")
        );
        // Another case of one letter is another id, with another suffix.
        assert_ne!(to_18("0015000000Gv7qj"), to_18("0015000000Gv7qJ"));
    }

    #[test]
    fn other_shapes_and_wrong_suffixes_are_refused() {
        assert_eq!(to_18("0015000000Gv7qJAAA"), None);
        assert_eq!(to_18("0015000000Gv7q"), None);
        assert_eq!(to_18("0015000000Gv7qJA"), None);
        assert_eq!(to_18("0015000000Gv7q-"), None);
        assert_eq!(to_18(""), None);
    }
}
