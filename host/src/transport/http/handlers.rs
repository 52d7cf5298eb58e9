//! The endpoint's methods: POST (one JSON-RPC message, answered with JSON or an SSE stream),
//! GET (a 2025-11-25 session's stream) and DELETE (ending a session).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio_util::task::AbortOnDropHandle;

use super::incoming::{Incoming, header_version};
use super::replay;
use super::sse::{CancelOnClose, Events, sse};
use super::{Http, Refused, SESSION_ID, refusal, too_many};
use crate::outbox::{Outbox, Sink, channel};
use crate::util::lock;

/// POST: one JSON-RPC message.
pub(super) async fn post(
    State(http): State<Arc<Http>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        // Past --max-body (413), or a body that could not be read: said as JSON-RPC too.
        Err(rejected) => {
            return refusal(
                rejected.status(),
                None,
                -32600,
                &format!("Invalid Request: {}", rejected.body_text()),
            );
        }
    };
    answer_post(http, headers, body)
        .await
        .unwrap_or_else(|refused| *refused)
}

async fn answer_post(
    http: Arc<Http>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refused> {
    let owner = http.gate.caller(&headers).await?;
    let incoming = Incoming::read(&body, &headers, &http.versions.stateless)?;
    tracing::debug!(
        %owner,
        method = incoming.method.as_deref().unwrap_or("(response)"),
        id = ?incoming.id,
        "POST"
    );
    let session = match incoming.stateless {
        true if incoming.is_request() => {
            http.check_stateless(&headers, &incoming)?;
            None
        }
        true => None,
        false => Some(http.session_of(&headers, &incoming, &owner).await?),
    };

    if !incoming.is_request() {
        // A notification, or the client's answer to a question: nothing to answer.
        let outbox = match &session {
            Some(s) => http.session_outbox(Sink::closed(), s),
            None => Outbox::nowhere(),
        };
        let peer = http.peer(owner, session.as_deref(), outbox);
        tokio::spawn(http.hub.clone().handle(peer, incoming.text, None));
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    // A 2025-11-25 call of a tool that polls (SEP-1699): its stream opens at once and closes
    // after the tool's time, and the client resumes it.
    let close_after = match (&session, incoming.is("tools/call")) {
        (Some(_), true) => incoming.message["params"]["name"]
            .as_str()
            .and_then(|tool| http.hub.stream_close_after(tool)),
        _ => None,
    };
    let (request_slot, stream_slot) = http.admit(&owner, &incoming)?;
    let Incoming {
        text,
        id,
        method,
        stateless,
        ..
    } = incoming;
    let id = id.unwrap_or(Value::Null);

    let (tx, mut rx) = channel(http.options.limits.max_queued_bytes);
    let outbox = match &session {
        Some(s) => http.session_outbox(tx, s),
        None => Outbox::new(tx),
    };
    let peer = http.peer(owner, session.as_deref(), outbox);
    let peer_id = peer.id;
    // 2026-07-28: a client that closes the request's stream before the answer cancels it (the
    // tool of a plain call is stopped). 2025-11-25 asks the opposite: a disconnect is not a
    // cancel there, the client sends notifications/cancelled.
    let cancel = stateless.then(|| CancelOnClose {
        hub: http.hub.clone(),
        peer: peer.clone(),
        id: id.clone(),
        armed: true,
    });
    let handler = AbortOnDropHandle::new(tokio::spawn(http.hub.clone().handle(peer, text, None)));

    let first = match close_after {
        // Its stream opens at once, whatever comes first.
        Some(_) => None,
        None => {
            let first = tokio::select! {
                // An answer already there wins over the shutdown that may follow it at once.
                biased;
                first = rx.recv() => first,
                // Stopping: a waiting request is answered with the stopping error as the
                // shutdown reaches it; take that answer rather than none.
                () = http.shutdown.cancelled() => {
                    tokio::time::timeout(std::time::Duration::from_secs(1), rx.recv())
                        .await
                        .ok()
                        .flatten()
                }
            };
            let Some(first) = first else {
                // Shutting down, or nothing holds the request's stream any more (which would be
                // a bug).
                return Err(Box::new(refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(&id),
                    -32603,
                    "Internal error: the request ended without an answer",
                )));
            };
            Some(first)
        }
    };
    let mut extra = HeaderMap::new();
    if let Some(session) = &session {
        let opening = method.as_deref() == Some("initialize");
        if http.keep_session(session, opening).await
            && opening
            && let Ok(value) = HeaderValue::from_str(&session.id)
        {
            extra.insert(SESSION_ID, value);
        }
    }
    // What the component sent in the same step is queued already: it all goes out, and the
    // answer last, as the answer ends the stream (a question sent with a tasks/get's answer).
    let mut queued: std::collections::VecDeque<_> = first.into_iter().collect();
    while let Some(message) = rx.try_recv() {
        queued.push_back(message);
    }
    let id = id.to_string();
    if let Some(at) = queued.iter().position(|m| m.answers(&id))
        && let Some(answer) = queued.remove(at)
    {
        queued.push_back(answer);
    }
    let only_the_answer = queued.len() == 1 && queued.front().is_some_and(|m| m.answers(&id));
    let mut response = match queued.pop_front() {
        Some(answer) if only_the_answer => {
            // Only the answer: plain JSON, and (2026-07-28) the status the component gave it.
            let status = match stateless {
                true => StatusCode::from_u16(answer.http_status).unwrap_or(StatusCode::OK),
                false => StatusCode::OK,
            };
            if let Some(mut cancel) = cancel {
                cancel.disarm();
            }
            drop((handler, request_slot));
            let body = answer.message;
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        first => {
            if let Some(first) = first {
                queued.push_front(first);
            }
            let hub = http.hub.clone();
            if let Some(session) = &session {
                // A session's stream is resumable: its log carries what it carries, and the
                // request runs on while its client reconnects.
                let log = session
                    .replay
                    .open(id, http.options.limits.max_queued_bytes);
                for message in queued {
                    log.push(message);
                }
                tokio::spawn(replay::pump(
                    log.clone(),
                    rx,
                    Box::new((handler, request_slot)),
                    Box::new(move || hub.forget(peer_id)),
                ));
                let shutdown = Box::pin(http.shutdown.clone().cancelled_owned());
                let reader = replay::Reader::new(log, 0, shutdown, Box::new(stream_slot))
                    .closing_after(close_after);
                let mut response = reader.into_response();
                response.headers_mut().extend(extra);
                return Ok(response);
            }
            sse(Events {
                queued,
                rx,
                until: id,
                done: false,
                cancel,
                shutdown: Box::pin(http.shutdown.clone().cancelled_owned()),
                _held: Box::new((handler, request_slot, stream_slot)),
                on_close: Some(Box::new(move || hub.forget(peer_id))),
            })
        }
    };
    response.headers_mut().extend(extra);
    Ok(response)
}

/// GET: a 2025-11-25 session's stream, for messages that belong to no request.
pub(super) async fn get_stream(State(http): State<Arc<Http>>, headers: HeaderMap) -> Response {
    let owner = match http.gate.caller(&headers).await {
        Ok(owner) => owner,
        Err(refused) => return *refused,
    };
    if header_version(&headers) == Some(http.versions.stateless.as_str()) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let accepts_sse = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream") || a.contains("*/*"));
    if !accepts_sse {
        return refusal(
            StatusCode::NOT_ACCEPTABLE,
            None,
            -32000,
            "Not Acceptable: a GET must accept text/event-stream",
        );
    }
    let session = match http.session(&headers, &owner).await {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    let Some(slot) = http
        .streams
        .take(&owner, http.options.limits.streams_per_owner)
    else {
        return too_many(&Value::Null, "this caller has too many streams open");
    };
    // Resuming one of the session's POST streams (SEP-1699): what followed that event, then
    // the rest as it comes, until the request's answer.
    if let Some((log, seq)) = headers
        .get("last-event-id")
        .and_then(|h| h.to_str().ok())
        .and_then(|last| session.replay.resume(last))
    {
        let shutdown = Box::pin(http.shutdown.clone().cancelled_owned());
        return replay::Reader::new(log, seq + 1, shutdown, Box::new(slot)).into_response();
    }
    // A new GET stream, resumable too: its log keeps the last `max_queued_bytes` of what it
    // carried while its client reconnects.
    let limit = http.options.limits.max_queued_bytes;
    let Some(log) = session.replay.open_standing(limit) else {
        return refusal(
            StatusCode::CONFLICT,
            None,
            -32000,
            "Conflict: this session's stream is already open",
        );
    };
    let (tx, rx) = channel(limit);
    // The stream it replaces (its reader gone) ends as its sender goes.
    *lock(&session.stream) = Some(tx);
    tokio::spawn(replay::pump(log.clone(), rx, Box::new(()), Box::new(|| {})));
    let shutdown = Box::pin(http.shutdown.clone().cancelled_owned());
    replay::Reader::new(log, 0, shutdown, Box::new(slot)).into_response()
}

/// DELETE: end a 2025-11-25 session. Its tasks stay; only the session's state and stream go.
pub(super) async fn delete(State(http): State<Arc<Http>>, headers: HeaderMap) -> Response {
    let owner = match http.gate.caller(&headers).await {
        Ok(owner) => owner,
        Err(refused) => return *refused,
    };
    if header_version(&headers) == Some(http.versions.stateless.as_str()) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    match http.session(&headers, &owner).await {
        Ok(session) => match http.end_session(&session.id).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(refused) => *refused,
        },
        Err(refused) => *refused,
    }
}
