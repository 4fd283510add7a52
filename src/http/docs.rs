//! `GET /docs`: Swagger UI for the OpenAPI document, served from the binary. Nothing
//! comes from a CDN, so it renders in an air-gapped cluster: swagger-ui-dist 5.32.0
//! (Apache-2.0) is vendored beside this file, with its licence (`docs/swagger-ui/`).

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web::Path;

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

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    embedded(content_type, body, CONTENT_SECURITY_POLICY)
}

/// A file embedded in the binary, with `policy` as its Content-Security-Policy and
/// no content sniffing.
pub fn embedded(
    content_type: &'static str,
    body: &'static str,
    policy: &'static str,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// The Swagger UI page.
pub async fn get_docs() -> HttpResponse {
    asset("text/html; charset=utf-8", PAGE)
}

/// One of the page's files; any other name is a 404.
pub async fn get_docs_asset(file: Path<String>) -> HttpResponse {
    const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
    match file.as_str() {
        "swagger-ui.css" => asset("text/css; charset=utf-8", CSS),
        "swagger-ui-bundle.js" => asset(JAVASCRIPT, BUNDLE),
        "init.js" => asset(JAVASCRIPT, INIT),
        _ => HttpResponse::NotFound().finish(),
    }
}
