//! `GET /actions` and `POST /actions/{id}`: the console's action vocabulary over REST.
//!
//! One registry (`tui::action::REGISTRY`) names every action the console knows; the keymap,
//! the `:` line, help, `docs/keys.md` and this API all read it, so an id such as `refresh`
//! means the same thing everywhere. `GET /actions` lists it with the default keys. `POST`
//! runs the actions that act on the pipeline or the store rather than on a console's view:
//! `refresh` (ASINs, or `all`) and `watch add|remove ASIN…`, with the arguments the `:` line
//! takes, parsed by the same parser (`discover` is `POST /jobs/discovery`). The others (sort, zoom, theme …) answer 409: there is
//! no console view here to act on. Actions marked `dangerous` are refused (403) on a
//! read-only server, and like jobs, a web page may run one only from an allowed origin.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, Problem, shorten};
use crate::domain::Asin;
use crate::domain::text::{list_first, span};
use crate::pipeline::{REFRESH_AGAIN_AFTER, Refresh};
use crate::store::{WatchEdit, WatchSource};
use crate::tui::action::{Action, Context, REFRESH_WORDS, REGISTRY, parse};
use crate::tui::keymap::{Keymap, show_keys};

/// The actions `POST /actions/{id}` runs.
const RUNNABLE: [&str; 2] = ["refresh", "watch"];

/// One action of the registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionOut {
    /// The id, as the `:` line, keymap `run =` strings and `POST /actions/{id}` use it.
    #[schema(example = "refresh")]
    pub id: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Arguments it completes on the `:` line.
    #[schema(example = json!(["selected", "all"]))]
    pub args: Vec<&'static str>,
    /// Where it applies in the console: `global`, `table`, `detail`, `sidebar`, `health`, `logs`.
    pub contexts: Vec<&'static str>,
    /// Changes stored data (the watchlist): refused on a read-only server.
    pub dangerous: bool,
    /// Whether `POST /actions/{id}` runs it (the others act on a console's view).
    pub runs_over_rest: bool,
    /// The default keys bound to it, with the command each runs.
    pub keys: Vec<KeyOut>,
}

/// A default key binding.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    /// The keys, as help shows them (`r`, `g h`, `<C-c>`).
    #[schema(example = "r")]
    pub keys: String,
    /// The command the keys run.
    #[schema(example = "refresh selected")]
    pub run: String,
    /// The console context the binding belongs to.
    #[schema(example = "table")]
    pub context: &'static str,
}

/// Every action.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionList {
    /// The registry, in help's order.
    pub items: Vec<ActionOut>,
}

/// What to run.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// The arguments as the `:` line takes them: `["all"]` or ASINs for `refresh`,
    /// `["add", "B0…"]` or `["remove", "B0…"]` for `watch`.
    #[serde(default)]
    #[schema(example = json!(["B0V97D4503"]))]
    pub args: Vec<String>,
}

/// What was done.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionDone {
    /// The action and its arguments, as the `:` line writes them.
    #[schema(example = "refresh B0V97D4503")]
    pub action: String,
    /// `queued` (a refresh: `/stats` and the products show when it ran) or `done` (a
    /// watchlist change; a refresh of what was refreshed on request in the last 30 s, which
    /// is not fetched again).
    #[schema(example = "queued", value_type = String, pattern = "^(queued|done)$")]
    pub status: &'static str,
    /// What it did or will cost, in words (a refresh: the Keepa tokens and when the balance
    /// allows them).
    #[schema(example = "15 Keepa tokens of 170,800: fetched within seconds")]
    pub detail: String,
}

/// Lists the console's actions.
#[utoipa::path(
    get,
    operation_id = "listActions",
    path = "/actions",
    responses((status = 200, description = "Every action, with its default keys", body = ActionList)),
    tag = "actions"
)]
pub(crate) async fn list() -> Json<ActionList> {
    let keymap = Keymap::load("default", None);
    let items = REGISTRY
        .iter()
        .map(|spec| ActionOut {
            id: spec.id,
            description: spec.desc,
            args: spec.args.to_vec(),
            contexts: spec.contexts.iter().map(|c| c.name()).collect(),
            dangerous: spec.dangerous,
            runs_over_rest: RUNNABLE.contains(&spec.id),
            keys: Context::ALL
                .iter()
                .flat_map(|&ctx| {
                    keymap
                        .bindings(ctx)
                        .iter()
                        .filter(|b| b.run.split_whitespace().next() == Some(spec.id))
                        .map(move |b| KeyOut {
                            keys: show_keys(&b.keys),
                            run: b.run.clone(),
                            context: ctx.name(),
                        })
                })
                .collect(),
        })
        .collect();
    Json(ActionList { items })
}

/// Runs an action.
#[utoipa::path(
    post,
    operation_id = "runAction",
    path = "/actions/{id}",
    params(("id" = String, Path, description = "The action: `refresh` or `watch` (`GET /actions` lists every id)", example = "refresh")),
    request_body(content = Option<ActionRequest>, description = "The arguments; no body is no arguments", content_type = "application/json"),
    responses(
        (status = 200, description = "Done (`watch`; or a `refresh` of what was refreshed on request in the last 30 s, not fetched again)", body = ActionDone),
        (status = 202, description = "Queued (`refresh`): `/stats` shows the pipeline's progress", body = ActionDone),
        (status = 400, description = "The body or the arguments cannot be used, or a query parameter was sent (the arguments go in the body); the detail says what the action takes", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The server is read-only and the action changes stored data, or a web page whose origin is not in `api.cors_origins` sent it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such action", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KB: send fewer ASINs at a time", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is declared as something other than JSON: send `Content-Type: application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The action acts on a console's view, or (`refresh`) this process does not ingest, or its Keepa requests are stopped (a refused key, a lapsed plan)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The command queue is full or stopped, or the store cannot answer; retry", body = Problem, content_type = "application/problem+json"),
    ),
    tag = "actions"
)]
pub(crate) async fn run(
    State(state): State<ApiState>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = super::error::path_text(id, "id")?;
    let Some(spec) = REGISTRY.iter().find(|s| s.id == id) else {
        return Err(ApiError::not_found(match parse(&id) {
            Err(e) if e.0.contains("did you mean") => format!("{} GET /actions lists them", e.0),
            _ => format!("no action '{}'; GET /actions lists them", shorten(&id)),
        }));
    };
    ApiError::refuse_query(
        query.as_deref(),
        "; the arguments go in the JSON body, {\"args\": [...]}",
    )?;
    // The console's `discover` is a job over the API.
    if spec.id == "discover" {
        return Err(ApiError::from_status(
            StatusCode::CONFLICT,
            "'discover' is a job over the API: POST /jobs/discovery runs it",
        ));
    }
    // An action on a console's view is refused whatever its arguments.
    if !RUNNABLE.contains(&spec.id) {
        return Err(ApiError::from_status(
            StatusCode::CONFLICT,
            format!(
                "'{}' acts on a console's view; over the API only {} run (GET /actions says \
                 which)",
                spec.id,
                RUNNABLE.join(" and ")
            ),
        ));
    }
    check_content_type(&headers)?;
    let request = read_request(body, state.settings().body_limit).await?;
    if spec.id == "watch" && request.args.is_empty() {
        return Err(bad_args(
            "watch: say add or remove and name the products, e.g. \"args\": [\"add\", \"B0D1XD1ZV3\"]",
        ));
    }
    let line = std::iter::once(spec.id.to_string())
        .chain(request.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    // No row is selected over the API: a refresh's alternative to ASINs is `all` alone.
    let action = parse(&line)
        .map_err(|e| bad_args(&e.0.replace(REFRESH_WORDS, "; or 'all' for the whole watchlist")))?;
    if spec.dangerous && state.settings().read_only {
        return Err(ApiError::read_only(&format!("'{}'", spec.id)));
    }
    super::middleware::refuse_cross_site(&headers, state.settings(), "an action")?;
    match action {
        Action::RefreshAll => refresh(&state, "refresh all".into(), None).await,
        Action::RefreshAsins(asins) => {
            let line = format!("refresh {}", list_first(&asins, 10));
            refresh(&state, line, Some(asins)).await
        }
        Action::Refresh => Err(bad_args(
            "refresh: name the products (\"args\": [\"B0D1XD1ZV3\"]) or the whole watchlist \
             (\"args\": [\"all\"]); there is no selected row over the API",
        )),
        Action::WatchAdd(asins) => watch(&state, WatchEdit::Add, asins).await,
        Action::WatchRemove(asins) => watch(&state, WatchEdit::Remove, asins).await,
        // Parsed from `refresh` or `watch`: nothing else gets here.
        other => Err(ApiError::internal(format!("unexpected action {other:?}"))),
    }
}

/// A body may be declared as JSON (`application/json` or a `+json` type) or not declared;
/// anything else (`curl -d` sends a form type) is a 415 saying what to send.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        return Ok(());
    }
    Err(ApiError::from_status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "the body is declared as '{}'; send JSON with Content-Type: application/json \
             (curl: --json '{{\"args\": [\"all\"]}}')",
            shorten(text)
        ),
    ))
}

/// The body as an [`ActionRequest`], read up to `limit` bytes (`[api] body_limit_bytes`;
/// the default, 64 KiB, holds a few thousand ASINs); an empty body is no arguments.
async fn read_request(body: Body, limit: usize) -> Result<ActionRequest, ApiError> {
    let bytes = to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            ApiError::from_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is over {} KB; send fewer ASINs at a time (the server's limit \
                     is `body_limit_bytes` in its config file's [api] section)",
                    limit / 1024
                ),
            )
        } else {
            // Malformed chunked framing, or a connection that broke off mid-body.
            bad_args(&format!(
                "the body could not be read ({}); send it whole, as JSON such as {{\"args\": [\"all\"]}}",
                shorten(&inner.to_string())
            ))
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionRequest::default());
    }
    // `null`, like no body, is no arguments (the document allows either).
    serde_json::from_slice::<Option<ActionRequest>>(&bytes)
        .map(Option::unwrap_or_default)
        .map_err(|e| {
            bad_args(&format!(
                "the body is not an action request ({e}); send JSON such as {{\"args\": [\"all\"]}}"
            ))
        })
}

fn bad_args(detail: &str) -> ApiError {
    ApiError::from_status(StatusCode::BAD_REQUEST, detail.to_string())
}

/// Adds `asins` to the watchlist or removes them (at least one), as `edit` says.
async fn watch(state: &ApiState, edit: WatchEdit, asins: Vec<Asin>) -> Result<Response, ApiError> {
    let verb = edit.verb();
    let line = format!("watch {verb} {}", list_first(&asins, 10));
    if asins.is_empty() {
        // The console's `:watch remove` alone takes its selected rows; here there are none.
        return Err(bad_args(&format!(
            "watch {verb}: name the products, e.g. \"args\": [\"{verb}\", \"B0D1XD1ZV3\"]"
        )));
    }
    let asked = Asin::distinct(&asins);
    let store = state.store();
    let changed = match edit {
        WatchEdit::Add => store.watch_add(asked.clone(), WatchSource::User).await,
        WatchEdit::Remove => store.watch_remove(asked.clone()).await,
    }
    .map_err(|e| ApiError::store_write(&e))?;
    let mut detail = crate::store::watch_change(edit, &changed, &asked);
    if edit == WatchEdit::Add && !changed.is_empty() {
        detail.push_str(who_fetches(&state.status_snapshot()));
    }
    done(line, detail)
}

/// Who fetches what was just added, when not this process: an API-only process has no
/// Keepa client (a status merged from other processes' reports shows theirs).
fn who_fetches(status: &crate::pipeline::PipelineStatus) -> &'static str {
    if status.fetches_here() {
        ""
    } else if status.peers.iter().any(|p| p.runs("ingest")) {
        "; the process that runs ingest on this store fetches it (new ASINs first)"
    } else {
        "; no process reports fetching for this store (the ingest role): it is fetched once \
         one runs (`arbdesk --serve` or `--role ingest` on this data)"
    }
}

fn done(action: String, detail: String) -> Result<Response, ApiError> {
    Ok((
        StatusCode::OK,
        Json(ActionDone {
            action,
            status: "done",
            detail,
        }),
    )
        .into_response())
}

/// Refuses a fetch while the store is down: what Keepa sent would have nowhere to go, and
/// its tokens would be spent for nothing.
pub(crate) async fn store_answers(state: &ApiState) -> Result<(), ApiError> {
    let probe = super::health::probe_store(state).await;
    if probe.answered_down() {
        return Err(ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the store is down ({}): nothing fetched could be stored, so nothing is \
                 fetched and no Keepa tokens are spent; GET /health says what is wrong",
                probe.health.detail
            ),
        ));
    }
    Ok(())
}

/// Refreshes `asins` (`None`: the watchlist) through the ingest stage: 202 with the token
/// cost, or 200 saying nothing was fetched again when every one was refreshed on request
/// moments ago (by this API or by a console of this process).
async fn refresh(
    state: &ApiState,
    action: String,
    asins: Option<Vec<Asin>>,
) -> Result<Response, ApiError> {
    let Some(commands) = state.commands() else {
        return Err(ApiError::from_status(
            StatusCode::CONFLICT,
            "this process does not fetch from Keepa (it has no ingest role, --role); send the \
             refresh to the process that ingests",
        ));
    };
    // A refused key or a lapsed plan stops every request until a restart: queued, the
    // refresh would wait for nothing.
    if let Some(why) = state.status_snapshot().keepa.stopped {
        return Err(ApiError::from_status(
            StatusCode::CONFLICT,
            format!(
                "Keepa requests are stopped ({why}): nothing can be fetched until that is fixed"
            ),
        ));
    }
    store_answers(state).await?;
    let whole = asins.is_none();
    let answer = match asins {
        Some(asins) => commands.refresh(asins),
        None => commands.refresh_all(),
    }
    .map_err(|e| {
        ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::pipeline::not_taken(&e),
        )
    })?;
    let (sent, repeats) = match answer {
        Refresh::Repeat { repeats, ago } => {
            // Asked for, not done: the fetch may have failed or still wait for tokens.
            let what = if whole {
                "the whole watchlist".to_string()
            } else {
                list_first(&repeats, 10)
            };
            return done(
                action,
                format!(
                    "a refresh of {what} was asked for {}: not fetched again within {} (no tokens spent)",
                    Refresh::ago(ago),
                    span(REFRESH_AGAIN_AFTER.as_secs() as i64)
                ),
            );
        }
        Refresh::Queued { sent, repeats } => (sent, repeats),
    };
    let left_out = if repeats.is_empty() {
        String::new()
    } else {
        format!(
            " ({} asked for moments ago left out: {})",
            crate::domain::text::count(repeats.len() as u64, "product"),
            list_first(&repeats, 10)
        )
    };
    let asins = if whole {
        state
            .store()
            .stats()
            .await
            .map_err(|e| ApiError::store(&e))?
            .watchlist
            .saturating_sub(repeats.len() as u64) as usize
    } else {
        sent.len()
    };
    let status = state.status_snapshot();
    let estimate = crate::pipeline::health::refresh_estimate(
        &status.keepa,
        status.refresh.as_ref(),
        asins,
        status.markets.len(),
        chrono::Utc::now(),
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(ActionDone {
            action,
            status: "queued",
            detail: format!(
                "{} in {}{left_out}: {estimate}",
                crate::domain::text::count(asins as u64, "product"),
                crate::domain::text::count(status.markets.len() as u64, "market")
            ),
        }),
    )
        .into_response())
}
