//! Access: with `[http] auth_token` set, every route needs `Authorization: Bearer
//! <token>` except the few listed open here. Protection is the default, so a new
//! handler is protected without doing anything; `tests/api/auth.rs` walks the
//! served OpenAPI document to check that every protected operation says so.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{HttpRequest, ResponseError};
use apistos::ApiSecurity;

use super::AppState;
use super::error::ApiError;

/// Route patterns anyone may call: the probes, the API description and its UI, and
/// the audit page's files (the page asks for the token before it reads data).
/// `/metrics` is open too unless `[http] protect_metrics` is set.
pub const OPEN_ROUTES: [&str; 7] = [
    super::ui::PAGE_ROUTE,
    super::ui::ASSET_ROUTE,
    "/health/live",
    "/health/ready",
    "/openapi.json",
    super::docs::DOCS_ROUTE,
    super::docs::DOCS_ASSET_ROUTE,
];

/// The scrape endpoint, open unless `[http] protect_metrics` is set.
pub const METRICS_ROUTE: &str = "/metrics";

/// Names the bearer scheme in the OpenAPI document for the operations that take
/// it. [`require_token`] enforces it, for every route not open.
#[derive(ApiSecurity)]
#[openapi_security(scheme(security_type(http(scheme = "bearer"))))]
pub struct BearerAuth;

impl actix_web::FromRequest for BearerAuth {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    /// Always succeeds: by the time a handler runs, [`require_token`] let it through.
    fn from_request(_: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(BearerAuth))
    }
}

/// Whether a request for `route` (its pattern, if it matched one) needs the token.
fn needs_token(route: Option<&str>, protect_metrics: bool) -> bool {
    match route {
        Some(METRICS_ROUTE) => protect_metrics,
        Some(route) => !OPEN_ROUTES.contains(&route),
        None => true,
    }
}

/// Middleware: answers 401 to a request without the right bearer token, unless its
/// route is open or no token is configured.
pub async fn require_token(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    // Borrowed, not cloned: this runs on every request.
    let refused = request.app_data::<Data<AppState>>().and_then(|state| {
        let token = state.auth_token.as_deref()?;
        let route = request.match_pattern();
        needs_token(route.as_deref(), state.protect_metrics)
            .then(|| authorize(request.request(), token).err())
            .flatten()
    });
    if let Some(refused) = refused {
        let response = refused.error_response();
        return Ok(request.into_response(response).map_into_right_body());
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Checks the request's bearer token against `token`.
fn authorize(request: &HttpRequest, token: &str) -> Result<(), ApiError> {
    let presented = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_credentials);
    match presented {
        Some(presented) if constant_time_eq(presented.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("The bearer token is not valid.")),
        None => Err(ApiError::Unauthorized(
            "This endpoint needs an Authorization: Bearer <token> header.",
        )),
    }
}

/// The credentials of an `Authorization` value in the bearer scheme, whose name is
/// case-insensitive (RFC 9110 §11.1: `bearer`, `BEARER` and `Bearer` alike).
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim_start_matches(' '))
}

/// Equality whose time does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer t0k", "bearer t0k", "BEARER t0k", "Bearer  t0k"] {
            assert_eq!(bearer_credentials(value), Some("t0k"), "{value}");
        }
        for value in ["Basic t0k", "Bearert0k", "t0k", ""] {
            assert_eq!(bearer_credentials(value), None, "{value}");
        }
    }

    #[test]
    fn only_the_open_routes_skip_the_token() {
        for route in OPEN_ROUTES {
            assert!(!needs_token(Some(route), true), "{route}");
        }
        assert!(!needs_token(Some(METRICS_ROUTE), false));
        assert!(needs_token(Some(METRICS_ROUTE), true));
        for route in ["/events/{type}", "/stats", "/status", "/blood_pressure"] {
            assert!(needs_token(Some(route), false), "{route}");
        }
        assert!(needs_token(None, false), "an unmatched path is not open");
    }
}
