//! A job title as seniority and function: "VP Sales" → vp / sales, "HR Generalist" →
//! individual / hr. The title is folded to lowercase words (anything but letters, digits and
//! `&` separates them); phrases are matched as whole consecutive words.

/// Seniority levels, most senior first: the first level with a word of the title wins.
const SENIORITY: &[(&str, &[&str])] = &[
    (
        "vp",
        &[
            "vp",
            "svp",
            "evp",
            "avp",
            "vice president",
            "vice-president",
        ],
    ),
    (
        "c_level",
        &[
            "chief",
            "ceo",
            "cto",
            "cfo",
            "coo",
            "cmo",
            "cio",
            "ciso",
            "cro",
            "cpo",
            "chro",
            "president",
            "founder",
            "cofounder",
            "co founder",
            "owner",
        ],
    ),
    (
        "director",
        &["director", "head", "managing director", "dir"],
    ),
    (
        "manager",
        &["manager", "mgr", "lead", "supervisor", "team leader"],
    ),
];

/// Functions and their words; of the words a title has, the one that comes first in it wins
/// ("Sales Engineer" is sales, "Marketing Operations Manager" marketing).
const FUNCTION: &[(&str, &[&str])] = &[
    (
        "sales",
        &[
            "sales",
            "account executive",
            "ae",
            "sdr",
            "bdr",
            "business development",
            "revenue",
            "cro",
            "account manager",
            "selling",
        ],
    ),
    (
        "marketing",
        &[
            "marketing",
            "cmo",
            "demand generation",
            "demand gen",
            "growth",
            "brand",
            "content",
            "seo",
            "communications",
            "pr",
            "campaign",
            "campaigns",
        ],
    ),
    (
        "hr",
        &[
            "hr",
            "human resources",
            "people",
            "talent",
            "recruiter",
            "recruiting",
            "recruitment",
            "chro",
            "hiring",
            "hrbp",
        ],
    ),
    (
        "it",
        &[
            "it",
            "cio",
            "ciso",
            "information technology",
            "sysadmin",
            "system administrator",
            "systems administrator",
            "infrastructure",
            "helpdesk",
            "help desk",
            "security",
            "network",
        ],
    ),
    (
        "engineering",
        &[
            "engineer",
            "engineering",
            "developer",
            "cto",
            "software",
            "devops",
            "architect",
            "programmer",
            "r&d",
        ],
    ),
    (
        "finance",
        &[
            "finance",
            "financial",
            "cfo",
            "accounting",
            "accountant",
            "controller",
            "treasury",
            "payroll",
            "fp&a",
        ],
    ),
    (
        "operations",
        &[
            "operations",
            "revenue operations",
            "coo",
            "ops",
            "revops",
            "logistics",
            "supply chain",
            "procurement",
            "purchasing",
        ],
    ),
    ("product", &["product", "cpo"]),
    (
        "support",
        &[
            "support",
            "customer success",
            "customer service",
            "service desk",
        ],
    ),
    (
        "legal",
        &[
            "legal",
            "counsel",
            "attorney",
            "lawyer",
            "compliance",
            "paralegal",
        ],
    ),
    (
        "executive",
        &[
            "ceo",
            "chief executive",
            "founder",
            "cofounder",
            "co founder",
            "owner",
            "president",
            "general manager",
            "managing director",
        ],
    ),
];

fn words(title: &str) -> Vec<String> {
    title
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '&'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where the phrase (one or more words) first starts among `words`.
fn position(words: &[String], phrase: &str) -> Option<usize> {
    let parts: Vec<&str> = phrase.split([' ', '-']).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > words.len() {
        return None;
    }
    (0..=words.len() - parts.len())
        .find(|&i| parts.iter().zip(&words[i..]).all(|(p, w)| *p == w.as_str()))
}

/// c_level, vp, director, manager, individual (a title with none of their words), or
/// unknown (no title). "Vice President" is vp even though it contains "president".
pub fn seniority(title: Option<&str>) -> &'static str {
    let w = match title.map(words) {
        Some(w) if !w.is_empty() => w,
        _ => return super::UNKNOWN,
    };
    // "Vice President" holds "president": the vp phrase is removed before c_level looks.
    let vp = SENIORITY[0];
    if vp.1.iter().any(|p| position(&w, p).is_some()) {
        return vp.0;
    }
    SENIORITY[1..]
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| position(&w, p).is_some()))
        .map_or("individual", |(level, _)| *level)
}

/// The function whose word comes first in the title; `other` for a title with none, unknown
/// without a title.
pub fn function(title: Option<&str>) -> &'static str {
    let mut w = match title.map(words) {
        Some(w) if !w.is_empty() => w,
        _ => return super::UNKNOWN,
    };
    // "Vice President, Marketing" is marketing: the president of "vice president" is not.
    if let Some(at) = position(&w, "vice president") {
        w.drain(at..at + 2);
    }
    let mut best: Option<(usize, usize, &'static str)> = None;
    for (name, phrases) in FUNCTION {
        for p in *phrases {
            if let Some(at) = position(&w, p) {
                // The earliest word wins; at one position the longer phrase ("account
                // manager" over nothing, "managing director" over "director").
                let len = p.split(' ').count();
                let better = match best {
                    None => true,
                    Some((b_at, b_len, _)) => at < b_at || (at == b_at && len > b_len),
                };
                if better {
                    best = Some((at, len, *name));
                }
            }
        }
    }
    best.map_or("other", |(_, _, name)| name)
}
