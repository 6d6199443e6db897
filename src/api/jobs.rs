//! `POST /jobs/{name}`: run a scheduled job now instead of waiting for its next run.
//!
//! Only the ingest role runs jobs, so a process without it (`--role api`) answers 409 (the
//! process is not one that runs jobs, now or later) and says which one does. The job itself runs in the pipeline; this answers 202 as soon as it is queued,
//! and `/stats` shows its result when it has run.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::{ApiError, Problem};
use crate::pipeline::Command;

/// Jobs that can be run by hand.
pub(crate) const JOBS: [&str; 1] = ["discovery"];

/// Refuses a request sent by a web page from an origin that is neither this server nor in
/// `api.cors_origins`. Jobs and actions spend Keepa tokens or change the watchlist, and
/// browsers send any page's form POST to a loopback server without asking; but they always
/// say where it came from, so only the command line, other programs and the configured
/// origins may send `what`.
pub(crate) fn check_origin(
    headers: &HeaderMap,
    settings: &super::ApiSettings,
    what: &str,
) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("(not text)");
    let same_origin = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or(origin.strip_prefix("https://"))
                == Some(host)
        });
    if same_origin || settings.allows_origin(origin) {
        return Ok(());
    }
    Err(ApiError::from_status(
        StatusCode::FORBIDDEN,
        format!(
            "{what} cannot be started from a web page at {}: add the origin to \
             api.cors_origins to allow it",
            super::error::shorten(origin)
        ),
    ))
}

/// Queues a job.
#[utoipa::path(
    post,
    operation_id = "runJob",
    path = "/jobs/{name}",
    params(("name" = String, Path, description = "The job: `discovery`", example = "discovery")),
    responses(
        (status = 202, description = "Queued; `/stats` shows the run when it is done"),
        (status = 403, description = "Sent by a web page whose origin is not in `api.cors_origins`, or the server is read-only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This process does not run jobs (no ingest role): send it to the ingest process", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The job queue is full or stopped; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
    tag = "jobs"
)]
pub(crate) async fn run(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Discovery adds to the watchlist: stored data a read-only server does not change.
    if state.settings().read_only {
        return Err(ApiError::from_status(
            StatusCode::FORBIDDEN,
            "this server is read-only (--read-only): jobs that change stored data are off; \
             run them on a process started without it",
        ));
    }
    check_origin(&headers, state.settings(), "a job")?;
    let command = match name.as_str() {
        "discovery" => Command::Discover,
        other => {
            return Err(ApiError::not_found(format!(
                "no job '{}': the jobs that can be run by hand are {}",
                super::error::shorten(other),
                JOBS.join(", ")
            )));
        }
    };
    let Some(commands) = state.commands() else {
        return Err(ApiError::from_status(
            StatusCode::CONFLICT,
            "this process does not run jobs (it has no ingest role, --role); send the request to the process that ingests",
        ));
    };
    commands.try_send(command).map_err(|_| {
        ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "the job queue is full or stopped; try again shortly",
        )
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "job": name, "status": "queued" })),
    )
        .into_response())
}
