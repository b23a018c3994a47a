//! Static files of the pages, embedded in the binary: our own stylesheet and script, and the
//! third-party libraries vendored from their npm packages (`assets/vendor/`, each with its
//! licence; `scripts/vendor-assets.sh` fetches them again). Each is served under a path that
//! holds a hash of its bytes, so it can be cached for a year: a new build changes the path.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use sha2::{Digest, Sha256};

use crate::http::AppState;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static FILES: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: CSS,
        bytes: include_bytes!("../../assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        bytes: include_bytes!("../../assets/app.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: JS,
        bytes: include_bytes!("../../assets/vendor/htmx.min.js"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: JS,
        bytes: include_bytes!("../../assets/vendor/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: CSS,
        bytes: include_bytes!("../../assets/vendor/uPlot.min.css"),
    },
    Asset {
        name: "dashboard.js",
        content_type: JS,
        bytes: include_bytes!("../../assets/dashboard.js"),
    },
];

/// Our own files (the others are vendored and listed in `assets/vendor/SHA256SUMS`).
#[cfg(test)]
const OWN: &[&str] = &["app.css", "app.js", "dashboard.js"];

/// Each asset's name with the first 16 hex digits of its SHA-256.
static HASHES: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|a| (a.name, hex::encode(&Sha256::digest(a.bytes)[..8])))
        .collect()
});

/// The path of asset `name`, e.g. `/app/assets/3f2a…/app.css`.
pub fn url(name: &str) -> String {
    let hash = HASHES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, h)| h.as_str())
        .unwrap_or("missing");
    format!("/app/assets/{hash}/{name}")
}

pub fn router() -> Router<AppState> {
    Router::new().route("/app/assets/{hash}/{name}", get(serve))
}

async fn serve(Path((hash, name)): Path<(String, String)>) -> Response {
    let found = FILES
        .iter()
        .zip(HASHES.iter())
        .find(|(a, _)| a.name == name);
    match found {
        Some((asset, (_, h))) if *h == hash => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes,
        )
            .into_response(),
        // An old path after an upgrade: the current bytes, but not cached.
        Some((asset, _)) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded third-party files are the ones `assets/vendor/SHA256SUMS` lists.
    #[test]
    fn every_embedded_vendor_file_is_the_one_the_checksums_list() {
        let sums = include_str!("../../assets/vendor/SHA256SUMS");
        let vendored: Vec<&Asset> = FILES.iter().filter(|a| !OWN.contains(&a.name)).collect();
        assert!(vendored.iter().any(|a| a.name == "uPlot.iife.min.js"));
        for asset in vendored {
            let line = format!(
                "{}  {}",
                hex::encode(Sha256::digest(asset.bytes)),
                asset.name
            );
            assert!(
                sums.lines().any(|l| l == line),
                "{} not in SHA256SUMS",
                asset.name
            );
        }
    }

    #[test]
    fn an_asset_path_changes_with_its_bytes_and_an_unknown_one_says_missing() {
        let css = url("app.css");
        assert!(
            css.starts_with("/app/assets/") && css.ends_with("/app.css"),
            "{css}"
        );
        assert_eq!(css.len(), "/app/assets//app.css".len() + 16);
        assert_eq!(url("nope.js"), "/app/assets/missing/nope.js");
    }
}
