//! App wiring: builds the view, cache, Kafka clients, ingest thread and HTTP server
//! from settings. `Application::build` binds before it returns, so tests can bind
//! port 0 and read the real port.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::HttpServer;
use actix_web::dev::Server;
use actix_web::web::Data;
use log::{info, warn};

use crate::classify::{KeyRule, Rule};
use crate::config::{ClassifyBy, ConfigError, Settings};
use crate::decode::Decoder;
use crate::fetch::{Fetcher, KafkaReader, PayloadCache};
use crate::http::{self, AppState};
use crate::ingest::{self, IngestHandle, IngestOptions, IngestStatus};
use crate::kafka::{self, ClientRole, QuietContext, TokenSource};
use crate::metrics::Metrics;
use crate::snapshot::{self, Location};
use crate::view::{Topics, View, new_view};

/// Warm consumers kept for point reads of payloads that are not cached.
pub const POINT_READ_POOL: usize = 4;
/// How long a point read may take before the lookup answers 503.
pub const POINT_READ_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// The settings cannot be used: every problem, with its source.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The HTTP server could not start.
    #[error("cannot start HTTP server: {0}")]
    Http(#[from] std::io::Error),
}

/// What the settings name, checked and loaded once: each owner checks its own
/// settings here (config the shapes, kafka its properties and auth, http the
/// routes, snapshot its store, decode the schemas).
pub struct Prepared {
    /// Value decoding: `[avro]`, `[protobuf]` and `[registry]`.
    pub decoder: Arc<Decoder>,
    /// Where snapshots are kept, when `[snapshot]` is set.
    pub snapshots: Option<Vec<Location>>,
    /// OAUTHBEARER tokens analyzer makes (MSK IAM).
    pub tokens: TokenSource,
}

/// Checks `settings` with every owner's rules and loads what they name, reporting
/// every problem together, each with where its value came from.
pub fn prepare(settings: &Settings) -> Result<Prepared, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let mut problems = settings.problems();
    problems.extend(ingest::settings_problems(&settings.kafka));
    // A property still written `${NAME}` is reported as unresolved; librdkafka's
    // opinion of the literal text would only add noise.
    if !problems
        .iter()
        .any(|(key, _)| key.starts_with("kafka.properties"))
    {
        problems.extend(kafka::property_problems(&settings.kafka));
    }
    problems.extend(http::route_problems(&settings.routes));
    let tokens = TokenSource::from_settings(&settings.kafka, env)
        .map_err(|why| problems.push(("kafka.auth".to_owned(), why)));
    let snapshots =
        snapshot::locations(&settings.snapshot, env).map_err(|problem| problems.push(problem));
    let decoder = Decoder::load(settings).map_err(|found| problems.extend(found));
    match (tokens, snapshots, decoder) {
        (Ok(tokens), Ok(snapshots), Ok(decoder)) if problems.is_empty() => Ok(Prepared {
            decoder: Arc::new(decoder),
            snapshots,
            tokens,
        }),
        _ => Err(settings.refuse(problems)),
    }
}

/// A running analyzer: ingest thread plus HTTP server.
pub struct Application {
    port: u16,
    server: Server,
    ingest: IngestHandle,
    view: View,
    shutdown_timeout: u64,
    metrics: Arc<Metrics>,
}

impl Application {
    /// Binds the HTTP port, starts ingest, and prepares the server (call
    /// [`Application::run_until_stopped`] to serve).
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let started = Instant::now();
        let Prepared {
            decoder,
            snapshots,
            tokens,
        } = prepare(settings)?;
        let addr = settings.http.bind;
        let listener =
            TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?;
        let port = listener.local_addr()?.port();

        let topics = Topics::new(&settings.kafka.topics);
        let (view, mut writer) = new_view(&topics);
        for route in &settings.routes {
            writer.declare(&route.event_type);
        }
        writer.limit_types(settings.classify.max_types);
        writer.limit_keys(settings.keys.max_keys);
        let cache = PayloadCache::new(settings.cache.max_bytes);
        let reader = KafkaReader::new(
            topics.clone(),
            kafka::client_config(&settings.kafka, ClientRole::PointRead),
            kafka::client_config(&settings.kafka, ClientRole::Export),
            QuietContext(tokens.clone()),
            POINT_READ_POOL,
            POINT_READ_TIMEOUT,
        )?;
        let rule = Rule::from_settings(&settings.classify);
        let typing = format!(
            "{}, max_types {}; {}",
            rule.describe(),
            settings.classify.max_types,
            decoder.describe()
        );
        let options = IngestOptions {
            max_lateness_ms: settings.order.max_lateness_ms,
            rule,
            typing,
            key_rule: KeyRule::from_settings(&settings.keys),
            cache_headers: settings.cache.headers || settings.classify.by == ClassifyBy::Header,
            decoder: Arc::clone(&decoder),
            snapshots: snapshots.map(|locations| {
                let every = Duration::from_secs(settings.snapshot.interval_secs);
                (locations, settings.snapshot.write.then_some(every))
            }),
            tokens: tokens.clone(),
        };
        let ingest = ingest::spawn(&settings.kafka, options, writer, cache.clone())?;
        let metrics = Arc::new(Metrics::new(Box::new(http::metrics::LiveState {
            view: view.clone(),
            ingest: ingest.status(),
            cache: cache.clone(),
            max_type_series: settings.metrics.max_type_series,
        })));
        let state = Data::new(AppState {
            view: view.clone(),
            fetcher: Fetcher::new(cache, reader, Arc::clone(&metrics)),
            decoder,
            topics,
            ingest: ingest.status(),
            metrics: Arc::clone(&metrics),
            started,
            auth_token: settings.http.auth_token.clone(),
            protect_metrics: settings.http.protect_metrics,
            stats_keys: http::stats::StatsKeys::from_routes(&settings.routes),
            export_enabled: settings.http.export_enabled,
            keys_enabled: settings.keys.by != crate::config::KeysBy::None,
            streams: http::stream::StreamLimits::new(&settings.http),
            snapshots_enabled: settings.snapshot.dir.is_some() || settings.snapshot.url.is_some(),
            tokens,
            aliases: settings
                .routes
                .iter()
                .map(|r| (r.path.clone(), r.event_type.clone()))
                .collect(),
        });
        let cors_origins = settings.http.cors_origins.clone();
        let shutdown_timeout = settings.http.shutdown_timeout_secs;
        let server = HttpServer::new(move || http::app(state.clone(), cors_origins.clone()))
            // Signals are handled in run_until_stopped, to log and order each step.
            .disable_signals()
            .shutdown_timeout(shutdown_timeout)
            .listen(listener)?
            .run();
        info!("HTTP API listening on port {port}");
        Ok(Application {
            port,
            server,
            ingest,
            view,
            shutdown_timeout,
            metrics,
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

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully (see `run_until`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves (to the reason, for the log), then: stops
    /// accepting connections, lets in-flight requests finish within
    /// `http.shutdown_timeout_secs` (then drops them), and stops ingest.
    pub async fn run_until(self, stop: impl Future<Output = String>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let served = tokio::select! {
            served = &mut server => served,
            reason = stop => {
                info!(
                    "{reason}: shutting down; no new connections, in-flight requests have up to {}s",
                    self.shutdown_timeout
                );
                let deadline = Instant::now() + Duration::from_secs(self.shutdown_timeout);
                // Drain before stopping: actix-server 2.6 stops a worker's thread, and
                // every connection on it, if the accept thread's exit reaches the worker
                // before its stop message does. Paused, nothing new arrives; once our
                // in-flight count is 0, stopping can only drop idle connections.
                handle.pause().await;
                if !self.metrics.wait_idle(deadline).await {
                    warn!(
                        "requests still in flight after {}s are dropped",
                        self.shutdown_timeout
                    );
                }
                handle.stop(true).await;
                info!("HTTP server stopped");
                server.await
            }
        };
        info!("stopping ingest");
        let ingest = self.ingest;
        tokio::task::spawn_blocking(move || ingest.shutdown())
            .await
            .map_err(std::io::Error::other)?;
        info!("ingest stopped; exiting");
        served.map_err(std::io::Error::other)?
    }
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or SIGINT (Ctrl-C).
async fn shutdown_signal() -> String {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => tokio::select! {
            _ = sigterm.recv() => "SIGTERM received".to_owned(),
            _ = tokio::signal::ctrl_c() => "SIGINT received".to_owned(),
        },
        Err(e) => {
            warn!("cannot listen for SIGTERM ({e}); only SIGINT stops analyzer");
            if let Err(e) = tokio::signal::ctrl_c().await {
                warn!("cannot listen for SIGINT either ({e}); stop analyzer with SIGKILL");
                std::future::pending::<()>().await;
            }
            "SIGINT received".to_owned()
        }
    }
}
