//! The operators' API, served beside `/metrics` on the controller's HTTP
//! address: read the mode and the proposals with any known token; switch
//! the mode and approve or override proposals with an operator's token.
//! Tokens go in `Authorization: Bearer TOKEN`. Without one, or with an
//! unknown one, the answer is 401; with a read-only one, a change is 403;
//! either refusal is written to the decision log.
//!
//! - `GET /v1/mode`: `{"mode": ..., "gates_open": ...}`
//! - `POST /v1/mode` with the mode's name as the body
//! - `GET /v1/advise`: the proposals
//! - `POST /v1/advise/approve/JOB`, `POST /v1/advise/override/JOB`

use super::Mode;
use super::auth::{Role, Tokens};
use crate::event::Event;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// One proposal of advise mode: the candidate would start this job now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The job.
    pub job_id: String,
    /// Its place in the candidate's starts this cycle, from 0.
    pub rank: usize,
    /// When it was first proposed, Unix seconds.
    pub since_unix_s: f64,
    /// When it was submitted, Unix seconds.
    pub submit_unix_s: f64,
}

/// What the API shows: the loop writes it after each cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Board {
    /// The mode now.
    pub mode: Mode,
    /// Gates foresight holds on pending jobs.
    pub gates_open: usize,
    /// The proposals waiting for a verdict (advise mode).
    pub proposals: Vec<Proposal>,
}

/// A command an authenticated operator gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Switch to this mode.
    SetMode(Mode),
    /// Carry out the proposal for this job.
    Approve(String),
    /// Reject the proposal for this job: Slurm's own order stands.
    Override(String),
}

/// What the handlers share.
#[derive(Clone)]
pub struct Ops {
    /// The known tokens.
    pub tokens: Arc<Tokens>,
    /// The controller's loop.
    pub events: mpsc::Sender<Event>,
    /// What the loop last published.
    pub board: Arc<Mutex<Board>>,
}

type Answer = (StatusCode, [(header::HeaderName, &'static str); 1], String);

fn answer(code: StatusCode, body: serde_json::Value) -> Answer {
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

impl Ops {
    /// The holder's name, if the token lets them do it; else the refusal
    /// (logged through the loop when it is a change).
    fn allow(&self, headers: &HeaderMap, change: Option<&str>) -> Result<String, Answer> {
        let holder = bearer(headers).and_then(|t| self.tokens.check(t));
        let refusal = match holder {
            None => (StatusCode::UNAUTHORIZED, "unauthenticated", "no known operator token"),
            Some((name, Role::Watch)) if change.is_some() => (StatusCode::FORBIDDEN, name, "a read-only token"),
            Some((name, _)) => return Ok(name.to_string()),
        };
        let (code, by, why) = refusal;
        if let Some(what) = change {
            let _ = self.events.try_send(Event::Refused {
                by: by.to_string(),
                what: what.to_string(),
                why: why.to_string(),
            });
        }
        Err(answer(code, serde_json::json!({ "error": why })))
    }

    fn board(&self) -> Board {
        self.board.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn send(&self, by: String, command: Command) -> Answer {
        let (reply, rx) = oneshot::channel();
        if self.events.send(Event::Operator { by, command, reply }).await.is_err() {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "error": "the controller is stopping" }),
            );
        }
        match rx.await {
            Ok(Ok(msg)) => answer(StatusCode::OK, serde_json::json!({ "ok": msg })),
            Ok(Err(why)) => answer(StatusCode::CONFLICT, serde_json::json!({ "error": why })),
            Err(_) => {
                answer(StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "error": "the controller is stopping" }))
            }
        }
    }
}

async fn get_mode(State(ops): State<Ops>, headers: HeaderMap) -> Answer {
    if let Err(refused) = ops.allow(&headers, None) {
        return refused;
    }
    let b = ops.board();
    answer(StatusCode::OK, serde_json::json!({ "mode": b.mode, "gates_open": b.gates_open }))
}

async fn set_mode(State(ops): State<Ops>, headers: HeaderMap, body: String) -> Answer {
    let by = match ops.allow(&headers, Some(&format!("mode {}", body.trim()))) {
        Ok(by) => by,
        Err(refused) => return refused,
    };
    match body.parse::<Mode>() {
        Ok(mode) => ops.send(by, Command::SetMode(mode)).await,
        Err(e) => answer(StatusCode::BAD_REQUEST, serde_json::json!({ "error": e.to_string() })),
    }
}

async fn list(State(ops): State<Ops>, headers: HeaderMap) -> Answer {
    if let Err(refused) = ops.allow(&headers, None) {
        return refused;
    }
    let b = ops.board();
    answer(StatusCode::OK, serde_json::json!({ "mode": b.mode, "proposals": b.proposals }))
}

async fn verdict(State(ops): State<Ops>, headers: HeaderMap, Path((verb, job)): Path<(String, String)>) -> Answer {
    let by = match ops.allow(&headers, Some(&format!("{verb} {job}"))) {
        Ok(by) => by,
        Err(refused) => return refused,
    };
    match verb.as_str() {
        "approve" => ops.send(by, Command::Approve(job)).await,
        "override" => ops.send(by, Command::Override(job)).await,
        _ => answer(StatusCode::NOT_FOUND, serde_json::json!({ "error": "approve or override" })),
    }
}

/// The API's routes, to merge beside `/metrics`.
pub fn router(ops: Ops) -> axum::Router {
    axum::Router::new()
        .route("/v1/mode", get(get_mode).post(set_mode))
        .route("/v1/advise", get(list))
        .route("/v1/advise/{verb}/{job}", post(verdict))
        .with_state(ops)
}
