//! `POST /jobs/{name}`: run a scheduled job now instead of waiting for its next run.
//!
//! Only the ingest role runs jobs, so a process without it (`--role api`) answers 409 (the
//! process is not one that runs jobs, now or later) and says which one does. The job itself runs in the pipeline; this answers 202 as soon as it is queued,
//! and `/stats` shows its result when it has run.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::{ApiError, Problem};
use crate::pipeline::{DiscoveryAsked, RunInHand};

/// Jobs that can be run by hand.
pub(crate) const JOBS: [&str; 1] = ["discovery"];

/// What `POST /jobs/{name}` answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct JobAnswer {
    /// The job.
    job: String,
    /// `queued`, `running` (a run in progress answers for the request) or `done` (a run
    /// finished moments ago answers for it).
    #[schema(pattern = "^(queued|running|done)$")]
    status: String,
    /// When the run that answers finished (`done` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// In words (`running`, `done`, and `queued` when the request joined a run queued
    /// before it).
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Queues a job.
#[utoipa::path(
    post,
    operation_id = "runJob",
    path = "/jobs/{name}",
    params(("name" = String, Path, description = "The job: `discovery`", example = "discovery")),
    responses(
        (status = 200, description = "Not queued: a run is in progress (`status` `running`, the request joins it) or finished less than 30 s ago (`done`, with `finished_at`)", body = JobAnswer),
        (status = 202, description = "Queued (requests made while it is queued join it); `/stats` shows the run when it is done", body = JobAnswer),
        (status = 403, description = "Sent by a web page whose origin is not in `api.cors_origins`, or the server is read-only", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "A query parameter or a body was sent: a job takes neither", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This process does not run jobs (no ingest role): send it to the ingest process; or, for discovery, `[discovery] categories` is empty", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The job queue is full or stopped (retry after `Retry-After` seconds), or the store is down", body = Problem, content_type = "application/problem+json"),
    ),
    tag = "jobs"
)]
pub(crate) async fn run(
    State(state): State<ApiState>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let name = super::error::path_text(name, "name")?;
    if name != "discovery" {
        return Err(ApiError::not_found(format!(
            "no job '{}': the jobs that can be run by hand are {}",
            super::error::shorten(&name),
            JOBS.join(", ")
        )));
    }
    // A job takes nothing: a parameter or a body would be ignored, so neither is taken.
    ApiError::refuse_query(query.as_deref(), "")?;
    // A body too large to read (or cut off) was sent all the same.
    let sent_body = axum::body::to_bytes(body, state.settings().body_limit)
        .await
        .map_or(true, |b| !b.is_empty());
    if sent_body {
        return Err(ApiError::from_status(
            StatusCode::BAD_REQUEST,
            format!("POST /jobs/{name} takes no body: send the request without one"),
        ));
    }
    // Discovery adds to the watchlist: stored data a read-only server does not change.
    if state.settings().read_only {
        return Err(ApiError::read_only(&format!(
            "'{name}' (it adds to the watchlist)"
        )));
    }
    super::middleware::refuse_cross_site(&headers, state.settings(), "a job")?;
    super::actions::store_answers(&state).await?;
    queue_discovery(&state, name)
}

/// Queues a discovery run (job `name`) for the ingest stage, unless a run in progress or
/// one just finished answers for it (200); 202 once queued.
fn queue_discovery(state: &ApiState, name: String) -> Result<Response, ApiError> {
    let Some(commands) = state.commands() else {
        return Err(ApiError::from_status(
            StatusCode::CONFLICT,
            "this process does not run jobs (it has no ingest role, --role); send the request to the process that ingests",
        ));
    };
    let now = chrono::Utc::now();
    let asked = commands
        .ask_discovery(&state.status_snapshot(), now)
        .map_err(|e| {
            ApiError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                crate::pipeline::not_taken(&e),
            )
        })?;
    let answer = |status: &str, finished_at, detail| JobAnswer {
        job: name.clone(),
        status: status.into(),
        finished_at,
        detail,
    };
    let (code, body) = match asked {
        DiscoveryAsked::NoLists => {
            return Err(ApiError::from_status(
                StatusCode::CONFLICT,
                crate::pipeline::NO_DISCOVERY,
            ));
        }
        // Another run would spend the same tokens on the same lists.
        DiscoveryAsked::InHand(run) => {
            let detail = Some(run.detail(now));
            let body = match run {
                RunInHand::Running => answer("running", None, detail),
                RunInHand::Done { finished_at } => answer("done", Some(finished_at), detail),
            };
            (StatusCode::OK, body)
        }
        DiscoveryAsked::Queued => (StatusCode::ACCEPTED, answer("queued", None, None)),
        DiscoveryAsked::Joined(at) => (
            StatusCode::ACCEPTED,
            answer(
                "queued",
                None,
                Some(format!(
                    "queued at {} UTC by an earlier request and not started yet: this \
                     request joins it",
                    at.format("%H:%M:%S")
                )),
            ),
        ),
    };
    Ok((code, Json(body)).into_response())
}
