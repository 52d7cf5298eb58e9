//! The live dashboard: a web page, embedded in the binary and loading nothing from the network,
//! over a small JSON API of [`Admin`], and a server-sent event stream that tells the page when
//! any task changed. `mcp-tasks admin --http IP:PORT` serves it ([`router`]), and `serve --http
//! --admin` beside its MCP endpoint at `/admin/` ([`routes`], behind the endpoint's own checks).
//!
//! Access, on its own server as beside an endpoint: a [`Gate`] checks `Origin` and `Host` (DNS
//! rebinding) on every request, and lets the API, its event stream and `/metrics` through for
//! operators only: with bearer tokens or JWTs, the owners it names; without, any caller (the
//! server then binds loopback only).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;

use super::{Admin, AdminFailure, Filter, parse_age, parse_status, summary, view};
use crate::transport::http::{self, Gate};
use crate::types::Status;
use crate::util::now_ms;

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/app.css");

/// How often the event stream looks at the store for changes.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// The dashboard on its own server (`admin --http`): its routes at the root, with `/metrics`
/// when metrics are on, behind `gate` (the page for this site, the rest for operators), and the
/// protected resource metadata when callers authenticate.
pub fn router(admin: Arc<Admin>, gate: Arc<Gate>) -> Router {
    let (page, api) = routes("", admin.clone());
    let api = if crate::metrics::enabled() {
        api.route("/metrics", get(metrics).with_state(admin))
    } else {
        api
    };
    let api = api.layer(middleware::from_fn_with_state(
        gate.clone(),
        http::operators_only,
    ));
    let metadata = Router::new()
        .route("/.well-known/oauth-protected-resource", get(http::metadata))
        .with_state(gate.clone());
    page.merge(api)
        .merge(metadata)
        .layer(middleware::from_fn_with_state(gate, http::same_site))
}

/// Who uses the dashboard, where a server that authenticates callers tells: changes are made in
/// their name. A request without it acts as the [`Admin`]'s own operator.
#[derive(Debug, Clone)]
pub struct Operator(pub String);

/// The dashboard under `prefix` (`""`, or `/admin` beside an MCP endpoint), over `admin`, with
/// no access check of their own: its page (the HTML, script and style, which hold nothing of the
/// store's, so that a browser can load them before it has a token), and its API, which the
/// caller guards.
pub fn routes(prefix: &str, admin: Arc<Admin>) -> (Router, Router) {
    let at = |path: &str| format!("{prefix}{path}");
    let page = Router::new()
        .route(
            &at("/"),
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            &at("/app.js"),
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            &at("/app.css"),
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        );
    let page = if prefix.is_empty() {
        page
    } else {
        // The page's links are relative: it must be read at `prefix/`.
        let slash = at("/");
        page.route(
            prefix,
            get(move || async move { axum::response::Redirect::permanent(&slash) }),
        )
    };
    let api = Router::new()
        .route(&at("/api/summary"), get(summary_json))
        .route(&at("/api/tasks"), get(list))
        .route(&at("/api/tasks/{id}"), get(show))
        .route(&at("/api/tasks/{id}/cancel"), post(cancel))
        .route(&at("/api/tasks/{id}/retry"), post(retry))
        .route(&at("/api/purge"), post(purge))
        .route(&at("/api/events"), get(events))
        .with_state(admin);
    (page, api)
}

/// The operator a request acts for: its [`Operator`], if the server told one.
fn acting(admin: &Arc<Admin>, operator: Option<Extension<Operator>>) -> Arc<Admin> {
    match operator {
        Some(Extension(Operator(name))) => Arc::new(admin.as_operator(&name)),
        None => admin.clone(),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Nothing but this server: no script, style or image from anywhere else.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:",
            ),
        ],
        body,
    )
        .into_response()
}

/// A failure as JSON: 404 for an unknown task, 409 for a change the rules refuse, 400 for bad
/// input, 503 for a store that failed.
fn failure(e: AdminFailure) -> Response {
    let status = match &e {
        AdminFailure::NotFound(_) => StatusCode::NOT_FOUND,
        AdminFailure::Refused { .. } => StatusCode::CONFLICT,
        AdminFailure::Store(_) | AdminFailure::Guest(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

fn bad_request(why: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": why.to_string() })),
    )
        .into_response()
}

async fn summary_json(State(admin): State<Arc<Admin>>) -> Response {
    match summary(admin.store().as_ref(), now_ms()).await {
        Ok(s) => Json(s).into_response(),
        Err(e) => failure(e),
    }
}

/// Statuses as the query gives them: comma-separated.
fn statuses(text: Option<&String>) -> Result<Vec<Status>, super::FilterError> {
    text.into_iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
        .map(parse_status)
        .collect()
}

async fn list(
    State(admin): State<Arc<Admin>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let statuses = match statuses(query.get("status")) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    let text = |name: &str| query.get(name).filter(|v| !v.is_empty()).cloned();
    let filter = Filter {
        statuses,
        owner: text("owner"),
        tool: text("tool"),
        text: text("text"),
        ..Filter::default()
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    // Newest first is what an operator looks for: the page lists the last `limit` matches.
    match admin.all(&filter).await {
        Ok(mut tasks) => {
            let total = tasks.len();
            tasks.reverse();
            tasks.truncate(limit);
            let rows: Vec<_> = tasks.iter().map(view::summary).collect();
            Json(json!({ "tasks": rows, "total": total })).into_response()
        }
        Err(e) => failure(e),
    }
}

async fn show(State(admin): State<Arc<Admin>>, Path(id): Path<String>) -> Response {
    match admin.task(&id).await {
        Ok(task) => Json(view::detail(&task)).into_response(),
        Err(e) => failure(e),
    }
}

async fn cancel(
    State(admin): State<Arc<Admin>>,
    operator: Option<Extension<Operator>>,
    Path(id): Path<String>,
) -> Response {
    match acting(&admin, operator).cancel(&id).await {
        Ok(done) => Json(json!({ "task": done.task.as_ref().map(view::detail) })).into_response(),
        Err(e) => failure(e),
    }
}

async fn retry(
    State(admin): State<Arc<Admin>>,
    operator: Option<Extension<Operator>>,
    Path(id): Path<String>,
) -> Response {
    match acting(&admin, operator).retry(&id).await {
        Ok(task) => Json(json!({ "task": view::detail(&task) })).into_response(),
        Err(e) => failure(e),
    }
}

/// POST /api/purge?status=completed,failed&olderThan=1h
async fn purge(
    State(admin): State<Arc<Admin>>,
    operator: Option<Extension<Operator>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let admin = acting(&admin, operator);
    let statuses = match statuses(query.get("status")) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return bad_request("name the statuses to purge"),
        Err(e) => return bad_request(e),
    };
    if statuses
        .iter()
        .any(|s| matches!(s, Status::Working | Status::InputRequired))
    {
        return bad_request("purge deletes finished tasks only: cancel live ones first");
    }
    let age = match parse_age(query.get("olderThan").map_or("0s", String::as_str)) {
        Ok(age) => age,
        Err(e) => return bad_request(e),
    };
    let filter = Filter {
        statuses,
        created_before: Some(now_ms().saturating_sub(age)),
        ..Filter::default()
    };
    let doomed = match admin.all(&filter).await {
        Ok(tasks) => tasks,
        Err(e) => return failure(e),
    };
    let mut purged = Vec::new();
    for task in doomed {
        match admin.purge(&task.id).await {
            Ok(()) => purged.push(task.id),
            Err(AdminFailure::NotFound(_)) => {}
            Err(e) => return failure(e),
        }
    }
    Json(json!({ "purged": purged })).into_response()
}

/// Server-sent events: a `summary` event at once, and again whenever a task changed.
async fn events(State(admin): State<Arc<Admin>>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut last = String::new();
        loop {
            if let Ok(s) = summary(admin.store().as_ref(), now_ms()).await
                && s.fingerprint != last
            {
                last = s.fingerprint.clone();
                let event = Event::default().event("summary").json_data(&s);
                if let Ok(event) = event
                    && tx.send(Ok(event)).await.is_err()
                {
                    return;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(LOOK_EVERY) => {}
                () = tx.closed() => return,
            }
        }
    });
    let stream: ReceiverStream<Result<Event, Infallible>> = ReceiverStream::new(rx);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn metrics(State(admin): State<Arc<Admin>>) -> Response {
    crate::metrics::answer(admin.store().as_ref()).await
}
