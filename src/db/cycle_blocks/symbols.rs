//! The symbols of one scan or compaction: `report_symbols` as read, plus the strings of raw
//! cycles and filters not stored yet (numbered after the stored ones, for this scan only).

use std::collections::{BTreeSet, HashMap};

use super::FactRow;
use crate::domain::{
    cycle_facts::{CycleFact, Sym, NONE},
    features::entries,
};

#[derive(Debug, Default)]
pub struct Symbols {
    /// By id; index 0 (NULL) and ids never stored hold nothing.
    values: Vec<Option<String>>,
    ids: HashMap<String, Sym>,
}

impl Symbols {
    pub fn from_rows(rows: Vec<(i32, String)>) -> Symbols {
        let mut s = Symbols {
            values: vec![None],
            ids: HashMap::with_capacity(rows.len()),
        };
        for (id, value) in rows {
            // Identity ids are positive; anything else is not ours to read.
            let Ok(i) = usize::try_from(id) else { continue };
            if i == 0 {
                continue;
            }
            if s.values.len() <= i {
                s.values.resize(i + 1, None);
            }
            s.values[i] = Some(value.clone());
            s.ids.insert(value, id as Sym);
        }
        s
    }

    /// One past the highest id known.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.len() <= 1
    }

    /// The string of `s`; `None` for NULL.
    pub fn name(&self, s: Sym) -> Option<&str> {
        self.values.get(s as usize).and_then(Option::as_deref)
    }

    /// The symbol of `value`, numbering it for this scan when it is not stored.
    pub fn intern(&mut self, value: Option<&str>) -> Sym {
        let Some(v) = value else { return NONE };
        if let Some(&id) = self.ids.get(v) {
            return id;
        }
        let id = self.values.len() as Sym;
        self.values.push(Some(v.to_owned()));
        self.ids.insert(v.to_owned(), id);
        id
    }

    /// Whether every symbol of `c` is below `n`.
    pub fn all_below(c: &CycleFact, n: usize) -> bool {
        let currencies = c.outcomes.iter().filter_map(|o| o.amount.map(|(_, s)| s));
        c.dims
            .iter()
            .chain([&c.rejection_code, &c.recycle_reason])
            .chain(&c.features)
            .copied()
            .chain(currencies)
            .all(|s| (s as usize) < n)
    }
}

/// Every string of `rows` a block will name.
pub(super) fn names_of(rows: &[FactRow]) -> Vec<String> {
    let mut set = BTreeSet::new();
    for r in rows {
        let opts = [
            &r.campaign,
            &r.channel,
            &r.queue,
            &r.owner,
            &r.rejection_code,
            &r.recycle_reason,
            &r.account_id,
        ];
        set.insert(r.source.as_str());
        set.insert(r.lead_type.as_str());
        set.extend(opts.into_iter().flatten().map(String::as_str));
        set.extend(r.features.as_deref().into_iter().flat_map(entries));
        let currencies = r.currencies.iter().flatten().flatten();
        set.extend(currencies.map(String::as_str));
    }
    set.into_iter().map(str::to_owned).collect()
}
