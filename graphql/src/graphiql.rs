//! GraphiQL on `GET /graphql`, served from the binary: the page, the vendored GraphiQL,
//! React and ReactDOM files and their licenses (`graphql/assets/graphiql/`, where a README
//! says where each came from) under `/graphql/assets/`, so it works with no network beyond
//! this server. The page allows scripts, styles and connections from this server only.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

/// The page's Content-Security-Policy, `{nonce}` standing for the response's own: scripts,
/// stylesheets and connections (HTTP and the subscription WebSocket) from this server only,
/// no inline script, no frames, no forms. Two allowances, neither able to run anything:
/// `data:` images and fonts, because GraphiQL's stylesheet embeds its fonts (Roboto, Fira
/// Code) and a few icons as data URLs; and the one `<style>` element GraphiQL's dialogs add
/// (Radix's scroll lock, `react-remove-scroll`), which carries the response's nonce: the page
/// hands it to GraphiQL as `__webpack_nonce__`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// A vendored file's name carries its version, so it may be cached for good; our own files
/// change with the binary and are revalidated (`ETag`).
const FOREVER: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr, $cache_control:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            cache_control: $cache_control,
            body: include_bytes!(concat!("../assets/graphiql/", $name)),
        }
    };
}

static ASSETS: [Asset; 9] = [
    asset!("react-18.3.1.production.min.js", JS, FOREVER),
    asset!("react-dom-18.3.1.production.min.js", JS, FOREVER),
    asset!("graphiql-4.1.2.min.js", JS, FOREVER),
    asset!("graphiql-4.1.2.min.css", CSS, FOREVER),
    asset!("carepath-graphiql.js", JS, REVALIDATE),
    asset!("carepath-graphiql.css", CSS, REVALIDATE),
    asset!("LICENSE.graphiql", TEXT, FOREVER),
    asset!("LICENSE.react", TEXT, FOREVER),
    asset!("LICENSE.react-dom", TEXT, FOREVER),
];

/// The page, `{nonce}` standing for the response's own: GraphiQL's stylesheet and scripts,
/// then ours, which starts it. The icon is empty, so the browser asks for no `/favicon.ico`.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="carepath-style-nonce" content="{nonce}">
<title>Carepath GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/graphql/assets/graphiql-4.1.2.min.css">
<link rel="stylesheet" href="/graphql/assets/carepath-graphiql.css">
</head>
<body>
<div id="graphiql"><p class="carepath-loading">Loading GraphiQL… (it needs JavaScript)</p></div>
<script src="/graphql/assets/react-18.3.1.production.min.js"></script>
<script src="/graphql/assets/react-dom-18.3.1.production.min.js"></script>
<script src="/graphql/assets/graphiql-4.1.2.min.js"></script>
<script src="/graphql/assets/carepath-graphiql.js"></script>
</body>
</html>
"#;

/// `GET /graphql`: the GraphiQL page, with a nonce of its own (so never cached).
pub async fn page() -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let csp = CONTENT_SECURITY_POLICY.replace("{nonce}", &nonce);
    let mut resp = PAGE.replace("{nonce}", &nonce).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// `GET /graphql/assets/{name}`: one of the page's files.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let tags = TAGS.get_or_init(|| ASSETS.iter().map(|a| etag(a.body)).collect());
    let a = &ASSETS[i];
    respond(&headers, &tags[i], a.body, a.content_type, a.cache_control)
}

fn respond(
    request: &HeaderMap,
    tag: &str,
    body: &'static [u8],
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A strong entity tag: FNV-1a (64 bits) of the content and its length.
fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{h:016x}-{:x}\"", body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_files_that_are_served() {
        let mut named = 0;
        for part in PAGE.split(['"', '\'']) {
            if let Some(name) = part.strip_prefix("/graphql/assets/") {
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{name} is not served"
                );
                named += 1;
            }
        }
        assert_eq!(named, 6);
        assert_eq!(PAGE.matches("{nonce}").count(), 1);
        assert_eq!(CONTENT_SECURITY_POLICY.matches("{nonce}").count(), 1);
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        assert!(!PAGE.contains("<script>") && !PAGE.contains("style="));
    }

    #[test]
    fn tags_differ_with_the_content() {
        assert_ne!(etag(b"a"), etag(b"b"));
        assert_eq!(etag(b"a"), etag(b"a"));
    }
}
