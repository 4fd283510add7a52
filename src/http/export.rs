//! Exports: `GET /events/{type}/export?from=I&to=J`, any range of a type's events
//! as NDJSON, one `/range` item a line.
//!
//! One blocking thread walks the range in index order and reads each payload (the
//! cache, else one [`SequentialRead`](crate::fetch::SequentialRead) for the whole
//! export), handing batches of [`READ_BATCH`] to a second that renders the lines
//! and hands them to the response in chunks through a channel of [`EXPORT_AHEAD`]:
//! reading Kafka, rendering and sending overlap, memory is bounded by what is in
//! flight, and both threads stop when the client leaves (the channels close).

use actix_web::HttpResponse;
use actix_web::web::{Data, Query};
use apistos::paths::Responses;
use apistos::{ApiComponent, JsonSchema, api_operation};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::AppState;
use super::auth::BearerAuth;
use super::browse::BrowsedEvent;
use super::error::{Answers, ApiError, ErrorCode, Failure};
use super::events::render_blocking;
use super::openapi::{Streamed, StreamedBody};
use super::query::EventType;
use crate::fetch::Payload;
use crate::view::{Found, Lookup};

/// Bytes of NDJSON an export sends at a time (a chunk is cut after the line
/// that passes it).
const EXPORT_CHUNK: usize = 64 << 10;
/// Chunks an export makes ahead of its client: with the batches below, the memory
/// one export holds besides its Kafka client's prefetch.
const EXPORT_AHEAD: usize = 2;

/// Events the reading thread hands the writing one at a time.
const READ_BATCH: usize = 256;
/// Batches read ahead of the writing thread.
const READ_AHEAD: usize = 4;

/// What an export can answer besides its stream.
pub struct ExportFailures;

impl Answers for ExportFailures {
    const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::ExportDisabled,
        ErrorCode::UnknownType,
        ErrorCode::KafkaUnavailable,
        ErrorCode::Internal,
    ];
}

/// The query of an export: `?from=I&to=J`.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct ExportQuery {
    /// The first index, from 0 (default 0).
    #[serde(default)]
    pub from: u64,
    /// One past the last index (default: the type's count when the request started).
    pub to: Option<u64>,
}

/// NDJSON, one `/range` item a line.
pub struct NdjsonEvents;

impl StreamedBody for NdjsonEvents {
    fn responses() -> Responses {
        super::openapi::ndjson_responses(
            "One event a line, each as the events of /events/{type}/range",
        )
    }
}

/// An export's answer.
pub type Export = Streamed<NdjsonEvents>;

/// A chunk of lines, or the error that ends the export.
type Chunk = Result<Bytes, ApiError>;

/// Export a range of a type's events as NDJSON.
#[api_operation(
    tag = "events",
    operation_id = "export_events",
    summary = "Export a range of a type's events as NDJSON",
    description = "Every event of `type` with an index from `from` (default 0) up to `to` (exclusive; default: the count when the request started), one JSON object a line, each as in /events/{type}/range. Streamed as fast as the client reads, with memory bounded whatever the range; the export stops when the client goes away. Uncached events are read from Kafka by one consumer for the export, each partition read forward from the first offset wanted there. If Kafka becomes unreachable mid-export, the connection is closed before the end (the body is then incomplete). 403 when the server sets [http] export_enabled = false."
)]
pub async fn get_event_export(
    _auth: BearerAuth,
    state: Data<AppState>,
    event_type: EventType,
    query: Query<ExportQuery>,
) -> Result<Export, Failure<ExportFailures>> {
    if !state.export_enabled {
        return Err(ApiError::ExportDisabled.into());
    }
    let event_type = event_type.0;
    let Some(index) = state.view.type_index(&event_type) else {
        return Err(ApiError::UnknownType(event_type).into());
    };
    let end = query.to.unwrap_or(u64::MAX).min(index.len());
    let from = query.from.min(end);
    let (chunks, mut received) = mpsc::channel::<Chunk>(EXPORT_AHEAD);
    let (batches, to_write) = std::sync::mpsc::sync_channel::<ReadBatch>(READ_AHEAD);
    // Threads of the blocking pool, reused from export to export as its consumer
    // is (see `SequentialRead`'s drop: new threads each time grew RSS).
    let reading = Data::clone(&state);
    let read_type = event_type.clone();
    drop(tokio::task::spawn_blocking(move || {
        read_events(&reading, &read_type, from..end, &batches);
    }));
    drop(tokio::task::spawn_blocking(move || {
        write_lines(&state, &event_type, &to_write, &chunks);
    }));
    // The first chunk before the answer starts: Kafka unreachable is then a 503.
    let first = match received.recv().await {
        Some(Err(error)) => return Err(error.into()),
        first => first,
    };
    let rest = futures_util::stream::unfold(received, |mut received| async move {
        let chunk = received.recv().await?;
        Some((chunk.map_err(actix_web::Error::from), received))
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::iter(first.map(|chunk| chunk.map_err(actix_web::Error::from))),
        rest,
    );
    Ok(Export::new(
        HttpResponse::Ok()
            .content_type("application/x-ndjson")
            .streaming(body),
    ))
}

/// A batch of events with their payloads (None: gone), or the error that ends
/// the export at an index.
type ReadBatch = Result<Vec<(Found, Option<Payload>)>, (u64, ApiError)>;

/// The export's reading thread: the payloads of the events of `event_type` at
/// `indexes`, in order, sent to `batches` until the end, an error (sent last) or
/// the writing thread leaving (`batches` closed).
fn read_events(
    state: &AppState,
    event_type: &str,
    indexes: std::ops::Range<u64>,
    batches: &std::sync::mpsc::SyncSender<ReadBatch>,
) {
    let mut payloads = state.fetcher.in_order();
    let mut batch = Vec::with_capacity(READ_BATCH);
    for at in indexes {
        let Lookup::Found(found) = state.view.get(event_type, at) else {
            continue;
        };
        match payloads.payload(found.position) {
            Ok(payload) => batch.push((found, payload)),
            Err(error) => {
                let _ = batches.send(Err((at, error.into())));
                return;
            }
        }
        if batch.len() == READ_BATCH {
            payloads.end_batch();
            let full = std::mem::replace(&mut batch, Vec::with_capacity(READ_BATCH));
            if batches.send(Ok(full)).is_err() {
                return; // the writer (its client) left
            }
        }
    }
    payloads.end_batch();
    if !batch.is_empty() {
        let _ = batches.send(Ok(batch));
    }
}

/// The export's writing thread: each event `batches` brings as an NDJSON line,
/// sent to `chunks` a chunk at a time until the end, an error (sent last) or the
/// client leaving (`chunks` closed). Reading and writing on two threads: on one,
/// polling the span's messages and rendering the lines added up (1.45 s for an
/// export that polled in 0.85 s and rendered in 0.5 s, measured).
fn write_lines(
    state: &AppState,
    event_type: &str,
    batches: &std::sync::mpsc::Receiver<ReadBatch>,
    chunks: &mpsc::Sender<Chunk>,
) {
    // Room for the chunk and the line that passes it, most often.
    let capacity = EXPORT_CHUNK + (EXPORT_CHUNK >> 2);
    let mut lines = Vec::with_capacity(capacity);
    for batch in batches {
        let events = match batch {
            Ok(events) => events,
            Err((at, error)) => {
                log::warn!("export of {event_type:?} stopped at index {at}: {error}");
                let _ = chunks.blocking_send(Err(error));
                return;
            }
        };
        for (found, payload) in events {
            // A value that does not render (registry down) is listed as its bytes.
            let rendered = match &payload {
                Some(payload) if !payload.tombstone => {
                    render_blocking(state, event_type, payload.value.clone()).ok()
                }
                _ => None,
            };
            let event = BrowsedEvent::new(state, &found, payload, rendered);
            if let Err(e) = serde_json::to_writer(&mut lines, &event) {
                let error = ApiError::Internal(format!("cannot write an event as JSON: {e}"));
                let _ = chunks.blocking_send(Err(error));
                return;
            }
            lines.push(b'\n');
            if lines.len() >= EXPORT_CHUNK {
                let chunk = std::mem::replace(&mut lines, Vec::with_capacity(capacity));
                if chunks.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                    return; // the client left
                }
            }
        }
    }
    if !lines.is_empty() {
        let _ = chunks.blocking_send(Ok(Bytes::from(lines)));
    }
}
