//! `GET /docs`: Swagger UI for the OpenAPI document, served from the binary. Nothing
//! comes from a CDN, so it renders in an air-gapped cluster: swagger-ui-dist 5.32.0
//! (Apache-2.0) is vendored beside this file, with its licence (`docs/swagger-ui/`).

use actix_web::http::header;
use actix_web::web::Path;
use actix_web::{HttpRequest, HttpResponse};

/// The page's route.
pub const DOCS_ROUTE: &str = "/docs";
/// Its assets' route.
pub const DOCS_ASSET_ROUTE: &str = "/docs/{file}";

const PAGE: &str = include_str!("docs/index.html");
const INIT: &str = include_str!("docs/init.js");
const CSS: &str = include_str!("docs/swagger-ui/swagger-ui.css");
const BUNDLE: &str = include_str!("docs/swagger-ui/swagger-ui-bundle.js");

/// Scripts and styles from this server only. Swagger UI's stylesheet draws icons
/// as `data:` images, and React sets inline styles.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn asset(request: &HttpRequest, content_type: &'static str, body: &'static str) -> HttpResponse {
    embedded(request, content_type, body, CONTENT_SECURITY_POLICY)
}

/// A file embedded in the binary, with `policy` as its Content-Security-Policy and
/// no content sniffing; its ETag is its checksum, and a request that names it in
/// `If-None-Match` gets 304 with no body. Browsers revalidate every load
/// (`no-cache`): the URLs carry no version, and a new binary may serve new files.
pub fn embedded(
    request: &HttpRequest,
    content_type: &'static str,
    body: &'static str,
    policy: &'static str,
) -> HttpResponse {
    // CRC-32 at memory speed: a fraction of a millisecond for the 1.5 MB bundle.
    // Weak: the same file compressed as each client asks is one resource.
    let etag = format!(
        "W/\"{:08x}-{:x}\"",
        crc32fast::hash(body.as_bytes()),
        body.len()
    );
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let unchanged = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| opaque(tag) == opaque(&etag) || tag.trim() == "*");
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
        response.content_type(content_type).body(body)
    }
}

/// The Swagger UI page.
pub async fn get_docs(request: HttpRequest) -> HttpResponse {
    asset(&request, "text/html; charset=utf-8", PAGE)
}

/// One of the page's files; any other name is a 404.
pub async fn get_docs_asset(request: HttpRequest, file: Path<String>) -> HttpResponse {
    const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
    match file.as_str() {
        "swagger-ui.css" => asset(&request, "text/css; charset=utf-8", CSS),
        "swagger-ui-bundle.js" => asset(&request, JAVASCRIPT, BUNDLE),
        "init.js" => asset(&request, JAVASCRIPT, INIT),
        _ => HttpResponse::NotFound().finish(),
    }
}
