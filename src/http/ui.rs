//! `GET /`: the audit page, its files beside this one (`ui/`), embedded in the binary:
//! nothing from outside, no build step. Values from Kafka are hostile: the page puts
//! them on screen as text only, and its Content-Security-Policy allows scripts,
//! styles and requests to this server alone.

use actix_web::web::Path;
use actix_web::{HttpRequest, HttpResponse};

use super::docs::{Embedded, embedded, etag_of};

/// The page's route.
pub const PAGE_ROUTE: &str = "/";
/// Its files' route.
pub const ASSET_ROUTE: &str = "/ui/{file}";

const PAGE_TEXT: &str = include_str!("ui/index.html");
const SCRIPT_TEXT: &str = include_str!("ui/app.js");
const STYLE_TEXT: &str = include_str!("ui/app.css");

static PAGE: Embedded = Embedded::new("text/html; charset=utf-8", PAGE_TEXT, || etag_of(PAGE_TEXT));
static SCRIPT: Embedded = Embedded::new("text/javascript; charset=utf-8", SCRIPT_TEXT, || {
    etag_of(SCRIPT_TEXT)
});
static STYLE: Embedded = Embedded::new("text/css; charset=utf-8", STYLE_TEXT, || {
    etag_of(STYLE_TEXT)
});

/// Only this server: no inline script or style, no plugin, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The audit page.
pub async fn get_page(request: HttpRequest) -> HttpResponse {
    embedded(&request, &PAGE, CONTENT_SECURITY_POLICY)
}

/// One of the page's files; any other name is a 404.
pub async fn get_asset(request: HttpRequest, file: Path<String>) -> HttpResponse {
    let file = match file.as_str() {
        "app.js" => &SCRIPT,
        "app.css" => &STYLE,
        _ => return HttpResponse::NotFound().finish(),
    };
    embedded(&request, file, CONTENT_SECURITY_POLICY)
}
