//! The `analyzer` binary: parse the command line, load config, run.

use std::path::PathBuf;
use std::process::ExitCode;

use analyzer::config::{self, ConfigFile};
use analyzer::demo::{self, DemoFormat, DemoOptions};
use analyzer::startup::{Application, StartupError};
use clap::{Parser, Subcommand};

/// Kafka indexing sidecar: per-type O(1) event lookups and exact counts over HTTP.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (default: ./analyzer.toml if it exists; then ANALYZER_* env).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a self-contained demo: embedded Kafka, a producer of sample readings,
    /// and analyzer indexing them (no broker or config needed).
    Demo {
        /// Events produced per second.
        #[arg(long, default_value_t = DemoOptions::default().rate)]
        rate: u32,
        /// HTTP port.
        #[arg(long, default_value_t = DemoOptions::default().port)]
        port: u16,
        /// Delivery events in schemaless Avro typed by an `item_type_name` header
        /// (schemas: examples/schemas/), decoded to JSON, instead of JSON readings.
        #[arg(long, conflicts_with = "protobuf")]
        avro: bool,
        /// Orders in unframed Protobuf typed by an `item_type_name` header
        /// (examples/protobuf/shop.desc), decoded to proto3 JSON, instead of JSON readings.
        #[arg(long)]
        protobuf: bool,
    },
}

/// Exit code for an unusable configuration.
const EXIT_CONFIG: u8 = 2;

#[actix_web::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    let cli = Cli::parse();
    if let Some(Command::Demo {
        rate,
        port,
        avro,
        protobuf,
    }) = cli.command
    {
        let format = match (avro, protobuf) {
            (true, _) => DemoFormat::Avro,
            (_, true) => DemoFormat::Protobuf,
            _ => DemoFormat::Json,
        };
        return finished(demo::run(DemoOptions { rate, port, format }).await);
    }
    let file = cli.config.map_or(ConfigFile::Default, ConfigFile::Explicit);
    let settings = match config::load(&file) {
        Ok(settings) => settings,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    log::info!(
        "analyzer {} starting: {}",
        env!("CARGO_PKG_VERSION"),
        settings.masked_summary()
    );
    let app = match Application::build(&settings) {
        Ok(app) => app,
        // Settings that an owner refuses, or a client that librdkafka refuses to
        // make (checked with the properties too; this covers files changed since).
        Err(e @ (StartupError::Config(_) | StartupError::Kafka(_))) => {
            log::error!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    finished(
        app.run_until_stopped()
            .await
            .map_err(|e| format!("server error: {e}")),
    )
}

/// The exit code for how a run ended, logging the error if it failed.
fn finished<E: std::fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
