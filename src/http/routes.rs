//! Every route, registered in one place: the documented API (its OpenAPI document
//! built by apistos), the `[[routes]]` aliases (served by the same handlers as
//! `/events/{type}`), and the routes outside the document (the page, Swagger UI,
//! the scrape); with the middleware that wraps them all.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Compress, Condition, from_fn};
use actix_web::web::Data;
use apistos::app::{BuildConfig, OpenApiWrapper};
use apistos::web;

use super::events::{
    HEADER_AVRO_SCHEMA, HEADER_AVRO_SCHEMA_ID, HEADER_INDEX, HEADER_INDEX_SETTLED, HEADER_OFFSET,
    HEADER_PARTITION, HEADER_SCHEMA_ID, HEADER_SCHEMA_TYPE, HEADER_TIMESTAMP, HEADER_TOPIC,
};
use super::query::AliasType;
use super::{
    AppState, auth, browse, docs, error, events, export, health, keys, metrics, openapi, query,
    stats, status, stream, timeline, ui,
};
use crate::config::RouteSettings;

/// Paths the API itself uses; an alias route may not take them or go below them.
pub const RESERVED_PATHS: [&str; 10] = [
    "/ui",
    "/events",
    "/keys",
    "/positions",
    "/stats",
    openapi::OPENAPI_PATH,
    "/docs",
    "/health",
    "/metrics",
    "/status",
];

/// What is wrong with `[[routes]]` that only the API knows: a path the API itself
/// uses, a type or `/stats` key it cannot serve; as (key, problem).
pub fn route_problems(routes: &[RouteSettings]) -> Vec<(String, String)> {
    use crate::classify::MAX_TYPE_LEN;
    use crate::view::UNCLASSIFIED;
    let mut problems = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        let key = format!("routes.{i}");
        if RESERVED_PATHS
            .iter()
            .any(|p| route.path == *p || route.path.starts_with(&format!("{p}/")))
        {
            let problem = format!("path {:?} is used by the API itself", route.path);
            problems.push((key.clone(), problem));
        }
        if route.event_type.is_empty()
            || route.event_type.len() > MAX_TYPE_LEN
            || route.event_type == UNCLASSIFIED
        {
            let problem = format!(
                "type {:?} must be 1 to {MAX_TYPE_LEN} bytes and not {UNCLASSIFIED:?}",
                route.event_type
            );
            problems.push((key.clone(), problem));
        }
        if let Some(stats_key) = &route.stats_key
            && stats_key.len() > MAX_TYPE_LEN
        {
            let problem = format!("{stats_key:?} must be 1 to {MAX_TYPE_LEN} bytes");
            problems.push((format!("{key}.stats_key"), problem));
        }
    }
    problems
}

/// The application: every route and the middleware around them, for one worker.
pub fn app(
    state: Data<AppState>,
    cors_origins: Vec<String>,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = cors(&cors_origins);
    let aliases = state.aliases.clone();
    // Outermost last: metrics see every answer, compression takes every body as
    // the client asked (`Accept-Encoding`: gzip, br or zstd), JSON bodies cover
    // CORS's refusals, and CORS answers preflights before the token is asked for.
    let mut app = actix_web::App::new()
        .document(openapi::spec())
        .app_data(state)
        .app_data(query::query_config())
        .app_data(query::path_config())
        .configure(documented)
        .wrap(from_fn(openapi::document_deployment))
        .wrap(from_fn(auth::require_token))
        .wrap(Condition::new(cors.is_some(), cors.unwrap_or_default()))
        .wrap(error::json_error_bodies())
        .wrap(Compress::default())
        .wrap(from_fn(metrics::record_request))
        .build_with(openapi::OPENAPI_PATH, BuildConfig::default())
        // The audit page and Swagger UI, served from the binary; not part of the
        // API they use.
        .route(ui::PAGE_ROUTE, actix_web::web::get().to(ui::get_page))
        .route(ui::ASSET_ROUTE, actix_web::web::get().to(ui::get_asset))
        .route(docs::DOCS_ROUTE, actix_web::web::get().to(docs::get_docs))
        .route(
            docs::DOCS_ASSET_ROUTE,
            actix_web::web::get().to(docs::get_docs_asset),
        )
        // Plain text for scrapers, so not in the OpenAPI document.
        .route(
            auth::METRICS_ROUTE,
            actix_web::web::get().to(metrics::get_metrics),
        );
    // An alias is `/events/{type}` for one type: the same handlers, documented
    // from theirs (see `openapi::document_deployment`).
    for (path, event_type) in aliases {
        let alias = Data::new(AliasType(event_type));
        app = app
            .service(
                actix_web::web::resource(path.as_str())
                    .app_data(alias.clone())
                    .route(actix_web::web::get().to(events::get_event)),
            )
            .service(
                actix_web::web::resource(format!("{path}/range"))
                    .app_data(alias)
                    .route(actix_web::web::get().to(browse::get_event_range)),
            );
    }
    app
}

/// Registers the routes of the OpenAPI document.
fn documented(cfg: &mut apistos::web::ServiceConfig) {
    cfg.service(web::resource("/events/{type}").route(web::get().to(events::get_event)))
        .service(
            web::resource("/events/{type}/range").route(web::get().to(browse::get_event_range)),
        )
        .service(
            web::resource("/events/{type}/export").route(web::get().to(export::get_event_export)),
        )
        .service(
            web::resource("/events/{type}/stream").route(web::get().to(stream::get_event_stream)),
        )
        .service(
            web::resource("/events/{type}/histogram")
                .route(web::get().to(timeline::get_event_histogram)),
        )
        .service(web::resource("/keys/{key}").route(web::get().to(keys::get_key)))
        .service(web::resource("/keys/{key}/events").route(web::get().to(keys::get_key_events)))
        .service(web::resource("/keys/{key}/stream").route(web::get().to(stream::get_key_stream)))
        .service(
            web::resource("/positions/{topic}/{partition}/{offset}")
                .route(web::get().to(events::get_position)),
        )
        .service(web::resource("/stats").route(web::get().to(stats::get_stats)))
        .service(web::resource("/status").route(web::get().to(status::get_status)))
        .service(web::resource("/health/live").route(web::get().to(health::get_live)))
        .service(web::resource("/health/ready").route(web::get().to(health::get_ready)));
}

/// CORS for browser-based audit UIs at `origins` (none: no CORS headers at all).
/// GET only, with the Authorization header, and the X-Kafka-* headers readable.
pub fn cors(origins: &[String]) -> Option<actix_cors::Cors> {
    if origins.is_empty() {
        return None;
    }
    let cors = origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(["GET"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::ACCEPT,
        ])
        .expose_headers([
            HEADER_TOPIC,
            HEADER_PARTITION,
            HEADER_OFFSET,
            HEADER_TIMESTAMP,
            HEADER_INDEX,
            HEADER_INDEX_SETTLED,
            HEADER_SCHEMA_TYPE,
            HEADER_SCHEMA_ID,
            HEADER_AVRO_SCHEMA,
            HEADER_AVRO_SCHEMA_ID,
        ])
        .max_age(3600);
    Some(cors)
}
