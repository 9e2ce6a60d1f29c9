//! The endpoints. Each handler moves the index work onto tokio's blocking
//! pool: feature extraction takes tens of milliseconds of CPU and would
//! stall every connection on an async thread.

use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mmindex::{AddReport, SearchMode, SearchOptions, Source};
use serde::{Deserialize, Serialize};

use super::auth::require_token;
use super::error::{json_errors, ApiError};
use super::AppState;
use crate::json::{json_hits, json_shard_hits, stats_json};

/// Results per search at most: bounds the cost of one request.
const MAX_TOP_K: usize = 10_000;
/// Records per `POST /records:batch` at most.
const MAX_BATCH: usize = 100_000;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/search", post(search))
        .route("/records:batch", post(batch))
        .route(
            "/records/{*id}",
            get(get_record).put(put_record).delete(delete_record),
        )
        .route("/records/", get(empty_id).put(empty_id).delete(empty_id))
        .fallback(not_found)
        // Outermost last: the token is checked before anything else is
        // said about the request (a caller without it does not learn the
        // upload cap), and every error answer leaves as JSON.
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn_with_state(state.clone(), upload_cap))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(middleware::from_fn(json_errors))
        .with_state(state)
}

async fn empty_id() -> ApiError {
    ApiError::bad_request("the record id is empty")
}

/// Refuses a declared body over the cap from its headers, before a byte of
/// it is read. (A body without a declared length is cut off at the cap by
/// `DefaultBodyLimit` as it streams in.)
async fn upload_cap(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > state.max_upload as u64 => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is {n} bytes; this server accepts at most {}",
                state.max_upload
            ),
        )
        .into_response(),
        _ => next.run(req).await,
    }
}

async fn time_limit(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("no answer within {} s", state.timeout.as_secs()),
        )
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint (see docs/SERVER.md)",
    )
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let g = &state.gauges;
    Json(serde_json::json!({
        "status": "ok",
        "connections": g.connections.load(Ordering::Relaxed),
        "searches_running": g.searches_running.load(Ordering::Relaxed),
        "searches_peak": g.searches_peak.load(Ordering::Relaxed),
    }))
}

/// A search's work running, counted in the gauges while alive.
struct Running(Arc<AppState>);

impl Running {
    fn start(state: Arc<AppState>) -> Running {
        let g = &state.gauges;
        let now = g.searches_running.fetch_add(1, Ordering::SeqCst) + 1;
        g.searches_peak.fetch_max(now, Ordering::SeqCst);
        Running(state)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0
            .gauges
            .searches_running
            .fetch_sub(1, Ordering::SeqCst);
    }
}

async fn stats(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let all = tokio::task::spawn_blocking(move || {
        state
            .indexes
            .iter()
            .map(|i| i.stats())
            .collect::<mmindex::Result<Vec<_>>>()
    })
    .await??;
    match all.as_slice() {
        [one] => Ok(Json(stats_json(one)).into_response()),
        shards => Ok(Json(serde_json::json!({
            "records": shards.iter().map(|s| s.records).sum::<u64>(),
            "shards": shards.iter().map(stats_json).collect::<Vec<_>>(),
        }))
        .into_response()),
    }
}

#[derive(Deserialize)]
struct SearchParams {
    top_k: Option<usize>,
    mode: Option<String>,
    rerank: Option<usize>,
    rerank_patience: Option<usize>,
    query_share: Option<f32>,
}

async fn search(
    State(state): State<Arc<AppState>>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let body = body?;
    let top_k = params.top_k.unwrap_or(10);
    if top_k == 0 || top_k > MAX_TOP_K {
        return Err(ApiError::bad_request(format!(
            "top_k must be in 1..={MAX_TOP_K}"
        )));
    }
    let mode: SearchMode = match params.mode.as_deref() {
        None => SearchMode::default(),
        Some(m) => m
            .parse()
            .map_err(|e: mmindex::Error| ApiError::bad_request(e.to_string()))?,
    };
    let rerank = params.rerank.unwrap_or(mmindex::DEFAULT_RERANK);
    if rerank > MAX_TOP_K {
        return Err(ApiError::bad_request(format!(
            "rerank must be in 0..={MAX_TOP_K}"
        )));
    }
    let rerank_patience = params
        .rerank_patience
        .unwrap_or(mmindex::DEFAULT_RERANK_PATIENCE);
    if rerank_patience > MAX_TOP_K {
        return Err(ApiError::bad_request(format!(
            "rerank_patience must be in 0..={MAX_TOP_K}"
        )));
    }
    let query_share = params.query_share.unwrap_or(1.0);
    if !(query_share > 0.0 && query_share <= 1.0) {
        return Err(ApiError::bad_request("query_share must be in (0, 1]"));
    }
    if body.is_empty() {
        return Err(ApiError::bad_request("the body must be the query image"));
    }
    let started = Instant::now();
    // The semaphore is never closed. The permit moves into the work itself:
    // a request answered 408 meanwhile leaves the search running, and its
    // slot taken until it ends.
    let slot = state
        .search_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let hits = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let _running = Running::start(state.clone());
        if !state.test_search_delay.is_zero() {
            std::thread::sleep(state.test_search_delay);
        }
        let opts = SearchOptions {
            top_k,
            mode,
            scoring: None,
            rerank,
            rerank_patience,
            query_share,
            ..SearchOptions::default()
        };
        let query = mmindex::Query::bytes(body.to_vec());
        match (&state.sharded, state.indexes.as_slice()) {
            (Some(sharded), _) => Ok(json_shard_hits(&sharded.search_with(&query, &opts)?)),
            (None, [index]) => Ok(json_hits(&index.searcher()?.search_with(&query, &opts)?)),
            (None, _) => Err(mmindex::Error::InvalidConfig(
                "several indexes without a sharded searcher".into(),
            )),
        }
    })
    .await??;
    Ok(Json(serde_json::json!({
        "results": hits,
        "ms": started.elapsed().as_secs_f64() * 1e3,
    }))
    .into_response())
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::bad_request("the record id is empty"));
    }
    Ok(())
}

async fn get_record(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let info = tokio::task::spawn_blocking({
        let id = id.clone();
        move || state.index_for(id.as_bytes()).record(id.as_bytes())
    })
    .await??;
    match info {
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no record {id:?}"),
        )),
        Some(r) => Ok(Json(serde_json::json!({
            "id": r.id.to_string_lossy(),
            "source": r.source,
            "content_hash": format!("{:016x}", r.content_hash),
            "words": r.words,
            "features": r.features,
        }))
        .into_response()),
    }
}

/// Runs `f` on the blocking pool under the write lock (an index has one
/// writer at a time); refused once the server has stopped. The writers'
/// batches are committed and flushed before `f` returns, so the answer
/// means "durable".
async fn locked<T: Send + 'static>(
    state: Arc<AppState>,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let stopped = state.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        if *stopped {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down",
            ));
        }
        f(&state)
    })
    .await?
}

/// Runs `f` with the writer of the shard that holds record `id` (the
/// index, when there is one), under the write lock.
async fn write<T: Send + 'static>(
    state: Arc<AppState>,
    id: String,
    f: impl FnOnce(&mut mmindex::IndexWriter) -> mmindex::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    locked(state, move |s| {
        let mut w = s.index_for(id.as_bytes()).writer(s.run.clone())?;
        Ok(f(&mut w)?)
    })
    .await
}

async fn put_record(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let body = body?;
    if body.is_empty() {
        return Err(ApiError::bad_request("the body must be the image"));
    }
    let report = write(state, id.clone(), {
        let id = id.clone();
        move |w| w.add(vec![Source::bytes(id, body.to_vec())])
    })
    .await?;
    if let Some(f) = report.failed.first() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("record {id:?} not stored: {}", f.reason),
        ));
    }
    let (status, word) = if report.replaced > 0 {
        (StatusCode::OK, "replaced")
    } else {
        (StatusCode::CREATED, "added")
    };
    Ok((
        status,
        Json(serde_json::json!({
            "id": id,
            "status": word,
            "empty": !report.empty.is_empty(),
        })),
    )
        .into_response())
}

async fn delete_record(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let removed = write(state, id.clone(), {
        let id = id.clone();
        move |w| w.remove([id])
    })
    .await?;
    if removed == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no record {id:?}"),
        ));
    }
    Ok(Json(serde_json::json!({ "id": id, "removed": true })).into_response())
}

#[derive(Deserialize)]
struct BatchRequest {
    records: Vec<BatchRecord>,
}

#[derive(Deserialize)]
struct BatchRecord {
    id: String,
    /// Relative to the allowed root, or absolute inside it.
    path: PathBuf,
}

#[derive(Serialize)]
struct BatchFailure {
    id: String,
    path: String,
    reason: String,
}

/// Refuses a path that names a place outside the root by its very
/// spelling: a `..` component, or an absolute path elsewhere. Where a path
/// leads through symlinks is checked when the file is read, on the
/// descriptor read (`Source::path_within`).
fn check_spelling(root: &FsPath, p: &FsPath) -> Result<(), String> {
    if p.components().any(|c| c == Component::ParentDir) {
        return Err("`..` is not allowed in paths".into());
    }
    if p.is_absolute() && !p.starts_with(root) {
        return Err("outside the allowed root".into());
    }
    Ok(())
}

async fn batch(
    State(state): State<Arc<AppState>>,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| match e {
        JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => {
            ApiError::bad_request(e.body_text())
        }
        other => ApiError::new(other.status(), other.body_text()),
    })?;
    let Some(root) = state.allowed_root.clone() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "server-side paths are disabled: start the server with --allowed-root",
        ));
    };
    if req.records.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BATCH} records per batch"
        )));
    }
    // A path spelled outside the root refuses the whole request before
    // anything is read: a batch is either allowed or not.
    let mut sources = Vec::with_capacity(req.records.len());
    for r in req.records {
        check_id(&r.id)?;
        if let Err(reason) = check_spelling(&root, &r.path) {
            return Err(ApiError::bad_request(format!(
                "{}: {reason}",
                r.path.display()
            )));
        }
        sources.push(Source::path_within(r.id, root.clone(), r.path));
    }
    // Each shard stores its own records, in the order given.
    let mut parts: Vec<Vec<Source>> = vec![Vec::new(); state.indexes.len()];
    for s in sources {
        let shard = state.shard_for(s.id.as_bytes());
        parts[shard].push(s);
    }
    let report = locked(state, move |s| {
        let mut report = AddReport::default();
        for (index, part) in s.indexes.iter().zip(parts) {
            if part.is_empty() {
                continue;
            }
            let r = index.writer(s.run.clone())?.add(part)?;
            report.added += r.added;
            report.replaced += r.replaced;
            report.empty.extend(r.empty);
            report.failed.extend(r.failed);
        }
        Ok(report)
    })
    .await?;
    let failed: Vec<BatchFailure> = report
        .failed
        .iter()
        .map(|f| BatchFailure {
            id: f.id.to_string_lossy(),
            path: f.path.display().to_string(),
            reason: f.reason.clone(),
        })
        .collect();
    Ok(Json(serde_json::json!({
        "added": report.added,
        "replaced": report.replaced,
        "empty": report.empty.iter().map(|e| e.to_string_lossy()).collect::<Vec<_>>(),
        "failed": failed,
    }))
    .into_response())
}
