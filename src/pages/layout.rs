//! The page shell: head (our stylesheet and scripts, all from `/app/assets`, none inline),
//! the navigation for the viewer's role, and the sign-out form.

use maud::{html, Markup, DOCTYPE};

use super::{assets, form::csrf_input, Viewer};

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Inbox,
    Dashboard,
    Settings,
    None,
}

/// A whole page.
pub fn page(viewer: Option<&Viewer>, title: &str, nav: Nav, content: Markup) -> Markup {
    page_with(viewer, title, nav, &Extras::default(), content)
}

/// Assets a page loads besides the shared ones (names in `assets::FILES`).
#[derive(Debug, Default)]
pub struct Extras<'a> {
    /// Stylesheets, after `app.css`… (so `app.css` can not override them).
    pub styles: &'a [&'a str],
    /// …and scripts, deferred, after `app.js`, in this order.
    pub scripts: &'a [&'a str],
}

/// A whole page that loads `extras` too (the dashboard's chart library).
pub fn page_with(
    viewer: Option<&Viewer>,
    title: &str,
    nav: Nav,
    extras: &Extras,
    content: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // htmx must not add an inline <style> (the CSP allows none). Escaped as any
                // attribute: unescaped, the JSON's first quote would end the attribute and
                // htmx would ignore the whole config.
                meta name="htmx-config" content=(r#"{"includeIndicatorStyles":false,"allowEval":false}"#);
                title { (title) " · salgate" }
                @for css in extras.styles {
                    link rel="stylesheet" href=(assets::url(css));
                }
                link rel="stylesheet" href=(assets::url("app.css"));
                script src=(assets::url("htmx.min.js")) defer {}
                script src=(assets::url("app.js")) defer {}
                @for js in extras.scripts {
                    script src=(assets::url(js)) defer {}
                }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/app" { "salgate" }
                    @if let Some(v) = viewer {
                        nav aria-label="Main" {
                            (nav_link("/app", "Inbox", nav == Nav::Inbox))
                            @if v.is_revops() {
                                (nav_link("/app/dashboard", "Dashboard", nav == Nav::Dashboard))
                                (nav_link("/app/settings", "Settings", nav == Nav::Settings))
                            }
                        }
                        form.sign-out method="post" action="/app/sign-out" {
                            (csrf_input(v))
                            span.who { (v.describe()) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" { h1 { (title) } (content) }
            }
        }
    }
}

fn nav_link(href: &str, label: &str, current: bool) -> Markup {
    html! {
        @if current { a href=(href) aria-current="page" { (label) } }
        @else { a href=(href) { (label) } }
    }
}

/// Percent-encodes a query value.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_value_is_percent_encoded_except_for_path_characters() {
        assert_eq!(query_escape("/app/leads?x=1&y"), "/app/leads%3Fx%3D1%26y");
    }
}
