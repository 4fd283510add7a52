//! `GET /metrics` (the Prometheus scrape, outside the OpenAPI document) and the
//! middleware that records every request in it.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{HttpResponse, ResponseError};

use super::AppState;
use super::error::ApiError;
use crate::metrics::{self, UNMATCHED_ROUTE};

/// Prometheus scrape endpoint: plain text. Open unless `[http] protect_metrics`.
pub async fn get_metrics(state: Data<AppState>) -> HttpResponse {
    match state.metrics.encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type(metrics::CONTENT_TYPE)
            .body(text),
        Err(e) => ApiError::Internal(format!("cannot encode metrics: {e}")).error_response(),
    }
}

/// The method label for request metrics: the standard ones, else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts and times every request by route template (never the raw
/// path: bounded label values), tracks requests in flight for shutdown, and logs
/// each request at debug level.
pub async fn record_request(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let method = method_label(request.method());
    let path = log::log_enabled!(log::Level::Debug).then(|| request.path().to_owned());
    let metrics = request
        .app_data::<Data<AppState>>()
        .map(|state| Arc::clone(&state.metrics));
    let in_flight = metrics.as_ref().map(|m| m.request_started());
    let response = next.call(request).await;
    drop(in_flight);
    let status = match &response {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let elapsed = started.elapsed();
    if let Some(path) = path {
        log::debug!("{method} {path} -> {} in {elapsed:?}", status.as_u16());
    }
    if let Some(metrics) = metrics {
        metrics.observe_http(route, method, status.as_u16(), elapsed);
    }
    response
}
