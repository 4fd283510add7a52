//! App wiring: builds the view, cache, Kafka clients, ingest thread and HTTP server
//! from settings. `Application::build` binds before it returns, so tests can bind
//! port 0 and read the real port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::Server;
use actix_web::web::Data;
use apistos::SwaggerUIConfig;
use apistos::app::{BuildConfig, OpenApiWrapper};
use apistos::info::Info;
use apistos::spec::Spec;
use log::info;

use crate::config::Settings;
use crate::fetch::{KafkaReader, PayloadCache};
use crate::http::{self, AppState};
use crate::ingest::{self, IngestHandle, IngestStatus};
use crate::view::{View, new_view};

/// Warm consumers kept for point reads of payloads that are not cached.
pub const POINT_READ_POOL: usize = 4;
/// How long a point read may take before the lookup answers 503.
pub const POINT_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Point-read client properties a user may override.
const READER_DEFAULTS: [(&str, &str); 4] = [
    ("client.id", "analyzer-reader"),
    // librdkafka's assign() needs a group id; readers never join it nor commit.
    ("group.id", "analyzer"),
    // Brokers like tansu hold every Fetch this long even when data is there.
    ("fetch.wait.max.ms", "10"),
    // A point read needs one message: do not prefetch far ahead.
    ("queued.min.messages", "1"),
];

/// Point-read properties analyzer depends on: EOF and out-of-range are answers.
const READER_MANAGED: [(&str, &str); 5] = [
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "true"),
    ("auto.offset.reset", "error"),
    ("isolation.level", "read_committed"),
];

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The HTTP address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A Kafka client could not be created (usually a bad librdkafka property).
    #[error("cannot create Kafka client: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The HTTP server could not start.
    #[error("cannot start HTTP server: {0}")]
    Http(#[from] std::io::Error),
}

/// A running analyzer: ingest thread plus HTTP server.
pub struct Application {
    port: u16,
    server: Server,
    ingest: IngestHandle,
    view: View,
}

impl Application {
    /// Binds the HTTP port, starts ingest, and prepares the server (call
    /// [`Application::run_until_stopped`] to serve).
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let addr = settings.http.bind;
        let listener =
            TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?;
        let port = listener.local_addr()?.port();

        let (view, mut writer) = new_view();
        for route in &settings.routes {
            writer.declare(&route.event_type);
        }
        let cache = PayloadCache::new(settings.cache.max_bytes);
        let reader = KafkaReader::new(
            settings.kafka.topics.clone(),
            settings
                .kafka
                .client_config(&READER_DEFAULTS, &READER_MANAGED),
            POINT_READ_POOL,
            POINT_READ_TIMEOUT,
        )?;
        let ingest = ingest::spawn(
            &settings.kafka,
            settings.classify.rule(),
            writer,
            cache.clone(),
        )?;

        let state = Data::new(AppState {
            view: view.clone(),
            cache,
            reader: Arc::new(reader),
            topics: settings.kafka.topics.clone(),
        });
        let aliases: Vec<(String, String)> = settings
            .routes
            .iter()
            .map(|r| (r.path.clone(), r.event_type.clone()))
            .collect();
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .document(spec())
                .app_data(state.clone())
                .app_data(http::query_config())
                .configure(http::routes(&aliases))
                .build_with(
                    "/openapi.json",
                    BuildConfig::default().with_ui(SwaggerUIConfig::new(&"/docs")),
                )
        })
        .listen(listener)?
        .run();
        info!("HTTP API listening on port {port}");
        Ok(Application {
            port,
            server,
            ingest,
            view,
        })
    }

    /// The bound HTTP port (the real one when the config asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The index, for callers that embed the application.
    pub fn view(&self) -> View {
        self.view.clone()
    }

    /// Status of the ingest thread.
    pub fn ingest_status(&self) -> Arc<IngestStatus> {
        self.ingest.status()
    }

    /// Serves until the server stops (SIGINT/SIGTERM), then stops ingest.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let ingest = self.ingest;
        tokio::task::spawn_blocking(move || ingest.shutdown())
            .await
            .map_err(std::io::Error::other)?;
        served
    }
}

/// The OpenAPI document's fixed part; apistos adds the operations.
pub fn spec() -> Spec {
    Spec {
        info: Info {
            title: "analyzer".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: Some(
                "Per-type index over a Kafka topic of mixed events: the Nth event of a type, and exact counts per type."
                    .to_owned(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}
