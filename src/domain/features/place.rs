//! Country and region: a country's common names and codes as its ISO 3166 alpha-2 code
//! (lowercase), and the sales region each code belongs to.

/// Countries by code, region, and the other names (folded) they are written as.
const COUNTRIES: &[(&str, &str, &[&str])] = &[
    (
        "us",
        "amer",
        &[
            "usa",
            "united states",
            "united states of america",
            "america",
        ],
    ),
    ("ca", "amer", &["can", "canada"]),
    ("mx", "amer", &["mex", "mexico", "méxico"]),
    ("br", "amer", &["bra", "brazil", "brasil"]),
    ("ar", "amer", &["arg", "argentina"]),
    ("cl", "amer", &["chl", "chile"]),
    ("co", "amer", &["col", "colombia"]),
    (
        "gb",
        "emea",
        &[
            "uk",
            "gbr",
            "united kingdom",
            "great britain",
            "england",
            "scotland",
            "wales",
        ],
    ),
    ("ie", "emea", &["irl", "ireland"]),
    ("de", "emea", &["deu", "germany", "deutschland"]),
    ("fr", "emea", &["fra", "france"]),
    ("es", "emea", &["esp", "spain", "españa"]),
    ("it", "emea", &["ita", "italy", "italia"]),
    (
        "nl",
        "emea",
        &["nld", "netherlands", "the netherlands", "holland"],
    ),
    ("be", "emea", &["bel", "belgium"]),
    ("ch", "emea", &["che", "switzerland", "schweiz", "suisse"]),
    ("at", "emea", &["aut", "austria", "österreich"]),
    ("se", "emea", &["swe", "sweden"]),
    ("no", "emea", &["nor", "norway"]),
    ("dk", "emea", &["dnk", "denmark"]),
    ("fi", "emea", &["fin", "finland"]),
    ("pl", "emea", &["pol", "poland", "polska"]),
    ("pt", "emea", &["prt", "portugal"]),
    ("cz", "emea", &["cze", "czechia", "czech republic"]),
    ("il", "emea", &["isr", "israel"]),
    ("ae", "emea", &["are", "uae", "united arab emirates"]),
    ("sa", "emea", &["sau", "saudi arabia"]),
    ("za", "emea", &["zaf", "south africa"]),
    ("ng", "emea", &["nga", "nigeria"]),
    ("tr", "emea", &["tur", "turkey", "türkiye"]),
    ("in", "apac", &["ind", "india"]),
    ("cn", "apac", &["chn", "china"]),
    ("jp", "apac", &["jpn", "japan"]),
    ("kr", "apac", &["kor", "south korea", "korea"]),
    ("sg", "apac", &["sgp", "singapore"]),
    ("au", "apac", &["aus", "australia"]),
    ("nz", "apac", &["nzl", "new zealand"]),
    ("id", "apac", &["idn", "indonesia"]),
    ("ph", "apac", &["phl", "philippines"]),
    ("hk", "apac", &["hkg", "hong kong"]),
];

/// `company.country` as a lowercase ISO alpha-2 code when it is one of the known codes or
/// names, else as folded text ([`super::fold`]); `None` when empty.
pub fn country(raw: &str) -> Option<String> {
    let folded = super::fold(raw)?;
    let known = COUNTRIES
        .iter()
        .find(|(code, _, names)| *code == folded || names.contains(&folded.as_str()));
    Some(known.map_or(folded, |(code, _, _)| (*code).to_owned()))
}

/// The region of a known country code (amer, emea, apac).
pub fn region(code: &str) -> Option<&'static str> {
    COUNTRIES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, region, _)| *region)
}
