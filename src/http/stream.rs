//! Live tails: `GET /events/{type}/stream?from=I`, as Server-Sent Events.
//!
//! Each event is a `/range` item, its `id` its index when sent. Events come from a
//! [`Tail`] of the type, which hands out every event appended after the start
//! exactly once, in the numbering's order within what has arrived: a tentative
//! event is sent once, with its index then (`settled: false`); an event that later
//! arrives from a lagging partition and takes a place before it is sent when it
//! arrives, with its own index. The body is produced only as the client reads it
//! (nothing buffers ahead); a client more than `[http] stream_max_lag` events
//! behind the live end, once it had reached it, and falling further behind, is
//! sent `event: overflow` and closed. Not compressed: an event must not wait in a compressor's buffer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use apistos::paths::Responses;
use apistos::{ApiComponent, JsonSchema, api_operation};
use bytes::Bytes;
use serde::Deserialize;

use super::AppState;
use super::auth::BearerAuth;
use super::browse::in_full;
use super::error::{Answers, ApiError, ErrorCode, Failure};
use super::keys::{KeyedBrowsedEvent, key_index_on, path_key, shown};
use super::openapi::{Streamed, StreamedBody};
use super::query::EventType;
use crate::config::HttpSettings;
use crate::view::{Found, KeyTail, Tail, View};

/// How often an idle tail looks for new events: what a live event may wait.
const POLL: Duration = Duration::from_millis(50);
/// Events read and sent at a time.
const BATCH: usize = 100;

/// How many live tails are open, and `[http]`'s bounds on them.
pub struct StreamLimits {
    open: Arc<AtomicU64>,
    max: u64,
    heartbeat: Duration,
    max_lag: u64,
}

impl StreamLimits {
    /// The bounds `[http]` sets, none open.
    pub fn new(http: &HttpSettings) -> StreamLimits {
        StreamLimits {
            open: Arc::new(AtomicU64::new(0)),
            max: http.max_streams,
            heartbeat: Duration::from_secs(http.stream_heartbeat_secs),
            max_lag: http.stream_max_lag,
        }
    }

    /// A place for one more tail, or the 503 saying there is none.
    fn take(&self) -> Result<Open, ApiError> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(Open(Arc::clone(&self.open))),
            Err(_) => Err(ApiError::TooManyStreams(self.max)),
        }
    }
}

/// An open tail's place, given back when its body is dropped (the client left).
struct Open(Arc<AtomicU64>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The query of a tail: `?from=I`.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct StreamQuery {
    /// The first index to send (a key's tail: the first place in its history),
    /// by default the count when the request starts, so only what comes next. A
    /// `Last-Event-ID` header takes precedence: the tail resumes after that id.
    pub from: Option<u64>,
}

/// What a tail can answer besides its stream.
pub struct StreamFailures;

impl Answers for StreamFailures {
    const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::UnknownType,
        ErrorCode::TooManyStreams,
    ];
}

/// Server-Sent Events of a type's events, as `/range` lists them.
pub struct SseEvents;

impl StreamedBody for SseEvents {
    fn responses() -> Responses {
        super::openapi::sse_responses(
            "Server-Sent Events: each `data` a /events/{type}/range item, `id` its index",
        )
    }
}

/// A type's live tail's answer.
pub type EventStream = Streamed<SseEvents>;

/// Server-Sent Events of a key's events, as `/keys/{key}/events` lists them.
pub struct SseKeyEvents;

impl StreamedBody for SseKeyEvents {
    fn responses() -> Responses {
        super::openapi::sse_responses(
            "Server-Sent Events: each `data` a /keys/{key}/events item, `id` its place in the key's history",
        )
    }
}

/// A key's live tail's answer.
pub type KeyEventStream = Streamed<SseKeyEvents>;

/// What a tail follows.
enum Followed {
    /// A type's events; each event's id is its index in the type.
    Type { event_type: Arc<str>, tail: Tail },
    /// One key's history; each event's id is its place there, and it is sent
    /// with its type (a `/keys/{key}/events` item).
    Key { tail: KeyTail },
}

impl Followed {
    /// Events not sent yet.
    fn lag(&self, view: &View) -> u64 {
        match self {
            Followed::Type { tail, .. } => view.tail_lag(tail),
            Followed::Key { tail } => view.key_tail_lag(tail),
        }
    }

    /// The next events to send, at most `max`: (id, type, event).
    fn next(&mut self, view: &View, max: usize) -> Vec<(u64, Arc<str>, Found)> {
        match self {
            Followed::Type { event_type, tail } => view
                .tail_next(tail, max)
                .into_iter()
                .map(|found| (found.index, Arc::clone(event_type), found))
                .collect(),
            Followed::Key { tail } => view
                .key_tail_next(tail, max)
                .into_iter()
                .map(|(place, keyed)| (place, keyed.event_type, keyed.found))
                .collect(),
        }
    }
}

/// Where a tail's body stands.
struct Tailing {
    state: Data<AppState>,
    followed: Followed,
    last_write: Instant,
    /// It has reached the live end once: from then on, falling behind is bounded.
    live: bool,
    /// Its lag when it last went past `stream_max_lag`: a lag that grows past it
    /// again means the client reads slower than events come (a burst that it
    /// works off is not that).
    behind: Option<u64>,
    done: bool,
    _open: Open,
}

impl Tailing {
    /// The next chunk of the body, waiting for events (or a heartbeat) if need be;
    /// None once it ended.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let view = &self.state.view;
        let limits = &self.state.streams;
        loop {
            if self.done {
                return None;
            }
            let lag = self.followed.lag(view);
            if !self.live || lag <= limits.max_lag {
                self.behind = None;
            } else if self.behind.is_none_or(|behind| lag <= behind) {
                self.behind = Some(lag);
            } else {
                self.done = true;
                return Some(Bytes::from(format!(
                    "event: overflow\ndata: {{\"message\":\"this client fell {lag} events behind, past [http] stream_max_lag ({}): reconnect with Last-Event-ID\"}}\n\n",
                    limits.max_lag
                )));
            }
            let next = self.followed.next(view, BATCH);
            if !next.is_empty() {
                self.live |= next.len() as u64 >= lag;
                self.last_write = Instant::now();
                let typed: Vec<(&str, Found)> = next
                    .iter()
                    .map(|(_, event_type, found)| (event_type.as_ref(), *found))
                    .collect();
                return Some(match in_full(&self.state, &typed).await {
                    Ok(events) => {
                        let with_type = matches!(self.followed, Followed::Key { .. });
                        let mut chunk = Vec::new();
                        for ((id, event_type, _), event) in next.iter().zip(events) {
                            chunk.extend_from_slice(format!("id: {id}\ndata: ").as_bytes());
                            // A /range item always serializes.
                            let _ = if with_type {
                                let event_type = event_type.to_string();
                                let keyed = KeyedBrowsedEvent { event_type, event };
                                serde_json::to_writer(&mut chunk, &keyed)
                            } else {
                                serde_json::to_writer(&mut chunk, &event)
                            };
                            chunk.extend_from_slice(b"\n\n");
                        }
                        Bytes::from(chunk)
                    }
                    Err(e) => {
                        self.done = true;
                        let message = serde_json::json!({ "message": e.to_string() });
                        Bytes::from(format!("event: error\ndata: {message}\n\n"))
                    }
                });
            }
            self.live = true;
            if self.last_write.elapsed() >= limits.heartbeat {
                self.last_write = Instant::now();
                return Some(Bytes::from_static(b": heartbeat\n\n"));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Follow a type's events as they are indexed.
#[api_operation(
    tag = "events",
    operation_id = "stream_events",
    summary = "Follow a type's events live, as Server-Sent Events",
    description = "Server-Sent Events: each `data` a /events/{type}/range item, `id` its index, from index `from` (default: the type's count now, so only what comes next), then live as events are indexed (within about 50 ms). A `Last-Event-ID` header resumes after that index. Every event is sent once: a tentative one with its index then (`settled: false`); one that arrives later from a lagging partition and takes a place before it is sent when it arrives, with its own index, so ids are not always increasing. A comment `: heartbeat` every [http] stream_heartbeat_secs (15) while idle. A client more than [http] stream_max_lag (10,000) events behind the live end and falling further behind (reading slower than events come) is sent `event: overflow` and closed; a read error ends the stream with `event: error`. At most [http] max_streams (64) at once: 503 `too_many_streams`. Not compressed."
)]
pub async fn get_event_stream(
    _auth: BearerAuth,
    state: Data<AppState>,
    event_type: EventType,
    query: Query<StreamQuery>,
    request: HttpRequest,
) -> Result<EventStream, Failure<StreamFailures>> {
    let event_type = event_type.0;
    let Some(index) = state.view.type_index(&event_type) else {
        return Err(ApiError::UnknownType(event_type).into());
    };
    let resume = resumed_after(&request)?;
    let from = resume.or(query.from).unwrap_or_else(|| index.len());
    let open = state.streams.take()?;
    let tail = state
        .view
        .tail(&event_type, from)
        .ok_or_else(|| ApiError::UnknownType(event_type.clone()))?;
    Ok(EventStream::new(sse(
        state,
        Followed::Type {
            event_type: Arc::from(event_type),
            tail,
        },
        from,
        open,
    )))
}

/// Where a tail resumes: after the `Last-Event-ID` a reconnecting client sends.
fn resumed_after(request: &HttpRequest) -> Result<Option<u64>, ApiError> {
    let Some(id) = request.headers().get("Last-Event-ID") else {
        return Ok(None);
    };
    let after = id
        .to_str()
        .ok()
        .and_then(|id| id.trim().parse::<u64>().ok())
        .ok_or_else(|| ApiError::InvalidQuery("`Last-Event-ID` must be an id sent".into()))?;
    Ok(Some(after.saturating_add(1)))
}

/// The answer of a tail of `followed` from `from`, holding its place `open`.
fn sse(state: Data<AppState>, followed: Followed, from: u64, open: Open) -> HttpResponse {
    let tailing = Tailing {
        state,
        followed,
        last_write: Instant::now(),
        live: false,
        behind: None,
        done: false,
        _open: open,
    };
    // A first comment, so the client has the answer's head at once.
    let start = Bytes::from(format!(": from {from}\nretry: 1000\n\n"));
    let rest = futures_util::stream::unfold(tailing, |mut tailing| async move {
        let chunk = tailing.next_chunk().await?;
        Some((Ok::<_, actix_web::Error>(chunk), tailing))
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(std::future::ready(Ok::<_, actix_web::Error>(start))),
        rest,
    );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        // Compress skips a response already encoded: events must not wait.
        .insert_header(("Content-Encoding", "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// What a key's tail can answer besides its stream.
pub struct KeyStreamFailures;

impl Answers for KeyStreamFailures {
    const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::NoSuchKey,
        ErrorCode::KeyIndexOff,
        ErrorCode::TooManyStreams,
    ];
}

/// Follow one key's events as they are indexed.
#[api_operation(
    tag = "keys",
    operation_id = "stream_key_events",
    summary = "Follow one entity's events live, across types, as Server-Sent Events",
    description = "Server-Sent Events: each `data` a /keys/{key}/events item (a /range item with its `type`), `id` its place in the key's history, from place `from` (default: the key's count now, so only what comes next), then live as events of the key are indexed (within about 50 ms). A `Last-Event-ID` header resumes after that place. Every event is sent once; one that arrives late from a lagging partition takes a place before events already sent, so ids are not always increasing. Heartbeats, `event: overflow`, `event: error`, [http] max_streams and no compression as for /events/{type}/stream. 404 `no_such_key` for a key not indexed yet."
)]
pub async fn get_key_stream(
    _auth: BearerAuth,
    state: Data<AppState>,
    request: HttpRequest,
    _key: Path<String>,
    query: Query<StreamQuery>,
) -> Result<KeyEventStream, Failure<KeyStreamFailures>> {
    key_index_on(&state)?;
    let key = path_key(&request)?;
    let resume = resumed_after(&request)?;
    let open = state.streams.take()?;
    let from = resume.or(query.from).unwrap_or(u64::MAX);
    let tail = state
        .view
        .key_tail(&key, from)
        .ok_or_else(|| ApiError::NoSuchKey(shown(&key)))?;
    let from = tail.start();
    Ok(KeyEventStream::new(sse(
        state,
        Followed::Key { tail },
        from,
        open,
    )))
}
