//! `GET /docs`: Swagger UI for the OpenAPI document, served from the binary. Nothing
//! comes from a CDN, so it renders in an air-gapped cluster: swagger-ui-dist 5.32.0
//! (Apache-2.0) is vendored beside this file, with its licence (`docs/swagger-ui/`).

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::web::Path;
use actix_web::{HttpRequest, HttpResponse};

/// The page's route.
pub const DOCS_ROUTE: &str = "/docs";
/// Its assets' route.
pub const DOCS_ASSET_ROUTE: &str = "/docs/{file}";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const PAGE_TEXT: &str = include_str!("docs/index.html");
const INIT_TEXT: &str = include_str!("docs/init.js");
const CSS_TEXT: &str = include_str!("docs/swagger-ui/swagger-ui.css");
const BUNDLE_TEXT: &str = include_str!("docs/swagger-ui/swagger-ui-bundle.js");

static PAGE: Embedded = Embedded::new("text/html; charset=utf-8", PAGE_TEXT, || etag_of(PAGE_TEXT));
static INIT: Embedded = Embedded::new(JAVASCRIPT, INIT_TEXT, || etag_of(INIT_TEXT));
static CSS: Embedded = Embedded::new("text/css; charset=utf-8", CSS_TEXT, || etag_of(CSS_TEXT));
static BUNDLE: Embedded = Embedded::new(JAVASCRIPT, BUNDLE_TEXT, || etag_of(BUNDLE_TEXT));

/// Scripts and styles from this server only. Swagger UI's stylesheet draws icons
/// as `data:` images, and React sets inline styles.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// A file embedded in the binary, with its ETag, computed once (a CRC-32 of the
/// 1.5 MB bundle is a fraction of a millisecond, not worth paying per request).
pub struct Embedded {
    content_type: &'static str,
    body: &'static str,
    etag: LazyLock<String>,
}

impl Embedded {
    /// `body`, served as `content_type`, its ETag from `etag` (give it
    /// `|| etag_of(body)`) at the first request.
    pub const fn new(content_type: &'static str, body: &'static str, etag: fn() -> String) -> Self {
        Embedded {
            content_type,
            body,
            etag: LazyLock::new(etag),
        }
    }
}

/// A weak ETag of `body`: its checksum and length. Weak, because the same file
/// compressed as each client asks is one resource.
pub fn etag_of(body: &str) -> String {
    format!(
        "W/\"{:08x}-{:x}\"",
        crc32fast::hash(body.as_bytes()),
        body.len()
    )
}

/// `file` with `policy` as its Content-Security-Policy and no content sniffing; a
/// request that names its ETag in `If-None-Match` gets 304 with no body. Browsers
/// revalidate every load (`no-cache`): the URLs carry no version, and a new binary
/// may serve new files.
pub fn embedded(request: &HttpRequest, file: &Embedded, policy: &'static str) -> HttpResponse {
    let etag = file.etag.as_str();
    fn opaque(tag: &str) -> &str {
        tag.trim().trim_start_matches("W/")
    }
    let unchanged = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| opaque(tag) == opaque(etag) || tag.trim() == "*");
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if unchanged {
        response.finish()
    } else {
        response.content_type(file.content_type).body(file.body)
    }
}

/// The Swagger UI page.
pub async fn get_docs(request: HttpRequest) -> HttpResponse {
    embedded(&request, &PAGE, CONTENT_SECURITY_POLICY)
}

/// One of the page's files; any other name is a 404.
pub async fn get_docs_asset(request: HttpRequest, file: Path<String>) -> HttpResponse {
    let file = match file.as_str() {
        "swagger-ui.css" => &CSS,
        "swagger-ui-bundle.js" => &BUNDLE,
        "init.js" => &INIT,
        _ => return HttpResponse::NotFound().finish(),
    };
    embedded(&request, file, CONTENT_SECURITY_POLICY)
}
