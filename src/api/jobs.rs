//! `POST /jobs/{name}`: run a scheduled job now instead of waiting for its next run.
//!
//! Only the ingest role runs jobs, so a process without it (`--role api`) answers 503 and
//! says so. The job itself runs in the pipeline; this answers 202 as soon as it is queued,
//! and `/stats` shows its result when it has run.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::ApiError;
use crate::pipeline::Command;

/// Jobs that can be run by hand.
pub(crate) const JOBS: [&str; 1] = ["discovery"];

/// Queues a job.
#[utoipa::path(
    post,
    operation_id = "runJob",
    path = "/jobs/{name}",
    params(("name" = String, Path, description = "The job: `discovery`")),
    responses(
        (status = 202, description = "Queued; `/stats` shows the run when it is done"),
        (status = 404, description = "No such job", content_type = "application/problem+json"),
        (status = 503, description = "This process does not run jobs (no ingest role)", content_type = "application/problem+json"),
    ),
    tag = "jobs"
)]
pub(crate) async fn run(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
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
            StatusCode::SERVICE_UNAVAILABLE,
            "this process does not run jobs (it has no ingest role); send the request to the ingest process",
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
