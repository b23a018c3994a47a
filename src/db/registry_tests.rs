//! Every `sqlx::query*` call outside tests takes a const registered in its module's
//! `STATEMENTS` (or is one of the few dynamic calls named below), so no statement escapes the
//! test that prepares them all (`tests/api/statements.rs`).

use std::{collections::BTreeSet, fs, path::Path};

/// Calls whose argument is not a registered const, by file and argument, and why.
const DYNAMIC: &[(&str, &str, &str)] = &[
    (
        "src/db/routing.rs",
        "&create_sequence",
        "a sequence name is an identifier, which cannot be a bind parameter",
    ),
    ("src/db/leads.rs", "sql", "one of ACCEPT, REJECT, RECYCLE"),
    (
        "src/db/retention.rs",
        "sql",
        "one of the six purge statements",
    ),
];

/// `salgate::db::leads` for `src/db/leads.rs`, `salgate::db` for `src/db/mod.rs`.
fn module_of(file: &str) -> String {
    let path = file.trim_start_matches("src/").trim_end_matches(".rs");
    let path = path.trim_end_matches("/mod").replace('/', "::");
    format!("salgate::{path}")
}

/// The first argument of each `sqlx::query*` call in `text` (code before `#[cfg(test)]`).
fn query_arguments(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    for (start, _) in code.match_indices("sqlx::query") {
        let rest = &code[start + "sqlx::query".len()..];
        // `query`, `query_as`, `query_scalar`, optionally with a turbofish; not `query::QueryAs`.
        let suffix_len = rest.find(|c: char| !(c.is_ascii_lowercase() || c == '_'));
        let (suffix, rest) = rest.split_at(suffix_len.unwrap_or(rest.len()));
        if !["", "_as", "_scalar"].contains(&suffix) {
            continue;
        }
        let rest = match rest.strip_prefix("::<") {
            Some(generics) => {
                let mut angle = 1;
                let end = generics.find(|c| {
                    match c {
                        '<' => angle += 1,
                        '>' => angle -= 1,
                        _ => {}
                    }
                    angle == 0
                });
                end.map_or("", |e| &generics[e + 1..])
            }
            None => rest,
        };
        let Some(args) = rest.trim_start().strip_prefix('(') else {
            continue;
        };
        let mut depth = 0;
        let arg: String = args
            .chars()
            .take_while(|&c| {
                match c {
                    '(' | '[' => depth += 1,
                    ')' | ']' if depth > 0 => depth -= 1,
                    ')' | ',' if depth == 0 => return false,
                    _ => {}
                }
                true
            })
            .collect();
        found.push(arg.trim().to_string());
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_string_lossy().into_owned());
        }
    }
}

/// Offences in `files` (path relative to the crate, text), given the registered names.
fn offences(files: &[(String, String)], registered: &BTreeSet<&str>) -> Vec<String> {
    let mut bad = Vec::new();
    let mut dynamic_seen = BTreeSet::new();
    for (file, text) in files {
        if file.ends_with("tests.rs") {
            continue;
        }
        for arg in query_arguments(text) {
            let is_const = arg.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            let name = format!("{}::{arg}", module_of(file));
            if is_const && registered.contains(name.as_str()) {
                continue;
            }
            match DYNAMIC.iter().find(|(f, a, _)| f == file && *a == arg) {
                Some(d) => {
                    dynamic_seen.insert(d.1.to_string() + d.0);
                }
                None => bad.push(format!(
                    "{file}: sqlx::query*({arg}) is not a registered const"
                )),
            }
        }
    }
    for (f, a, _) in DYNAMIC {
        if !dynamic_seen.contains(&(a.to_string() + f)) {
            bad.push(format!(
                "{f}: the dynamic call `{a}` listed in DYNAMIC is gone"
            ));
        }
    }
    bad
}

fn source_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    rust_files(&root.join("src"), &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            let rel = Path::new(&p).strip_prefix(root).unwrap();
            (rel.to_string_lossy().replace('\\', "/"), text)
        })
        .collect()
}

#[test]
fn every_query_call_in_src_takes_a_registered_statement() {
    let registered: BTreeSet<&str> = super::statements().map(|s| s.name).collect();
    let bad = offences(&source_files(), &registered);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn statement_names_are_unique_and_the_registry_is_not_empty() {
    let names: Vec<&str> = super::statements().map(|s| s.name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len());
    assert!(names.len() > 80, "{} statements", names.len());
}

/// The scan itself: a literal, a `format!` and an unregistered const are each reported.
#[test]
fn the_scan_reports_literals_formats_and_unregistered_consts() {
    let registered: BTreeSet<&str> = super::statements().map(|s| s.name).collect();
    let mut files = source_files();
    let text = "fn f() { sqlx::query_as::<_, (i32,)>(\"SELECT 1\"); \
                sqlx::query(&format!(\"SELECT {x}\")); sqlx::query_scalar(NOT_LISTED); }";
    files.push(("src/db/made_up.rs".into(), text.into()));
    let bad = offences(&files, &registered);
    let args: Vec<&str> = bad
        .iter()
        .filter_map(|b| b.strip_prefix("src/db/made_up.rs: sqlx::query*("))
        .collect();
    assert_eq!(
        args,
        [
            "\"SELECT 1\") is not a registered const",
            "&format!(\"SELECT {x}\")) is not a registered const",
            "NOT_LISTED) is not a registered const",
        ],
        "{bad:#?}"
    );
}
