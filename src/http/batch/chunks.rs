//! How a batch's items are cut into statements: by the size of their text, not their count.

use serde_json::value::RawValue;

/// Item text parsed and written at a time: bounds the parsed leads held next to the body, while
/// ordinary batches (a thousand leads well under this) stay one statement, since every
/// statement pays the history triggers once (chunks of 100 cost a third of batch throughput).
const CHUNK_BYTES: usize = 1024 * 1024;

/// `items` cut into runs of at most `CHUNK_BYTES` of text (at least one item each).
pub(super) fn chunks<'a, 'b>(
    items: &'b [&'a RawValue],
) -> impl Iterator<Item = &'b [&'a RawValue]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (mut n, mut bytes) = (0, 0);
        while n < rest.len() && (n == 0 || bytes + rest[n].get().len() <= CHUNK_BYTES) {
            bytes += rest[n].get().len();
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(len: usize) -> Box<RawValue> {
        RawValue::from_string(format!("\"{}\"", "x".repeat(len - 2))).unwrap()
    }

    #[test]
    fn small_items_make_one_chunk_and_big_ones_are_cut_by_size() {
        let small: Vec<Box<RawValue>> = (0..1000).map(|_| item(300)).collect();
        let small: Vec<&RawValue> = small.iter().map(|b| &**b).collect();
        assert_eq!(chunks(&small).map(<[_]>::len).collect::<Vec<_>>(), [1000]);

        // 16 KiB items: 64 fit in 1 MiB; an item over the limit goes alone.
        let big: Vec<Box<RawValue>> = (0..300).map(|_| item(16 * 1024)).collect();
        let mut big: Vec<&RawValue> = big.iter().map(|b| &**b).collect();
        let huge = item(2 * 1024 * 1024);
        big.insert(1, &huge);
        let sizes: Vec<usize> = chunks(&big).map(<[_]>::len).collect();
        assert_eq!(sizes, [1, 1, 64, 64, 64, 64, 43]);
        assert_eq!(chunks(&[]).count(), 0);
    }
}
