//! `arbdesk` with no flags: the console in front, the pipeline and the API behind it.

use std::sync::Arc;

use anyhow::Result;

use super::serve;
use crate::api::ApiActivity;
use crate::config::Settings;
use crate::tui::app::{self, ConsoleDeps};
use crate::tui::state::Session;

/// Runs the console until the operator quits, then drains the pipeline.
pub async fn console(settings: Settings) -> Result<()> {
    use std::io::IsTerminal;
    // A theme that is not there is a typo to say now, not another theme and a warning.
    if let Some(theme) = &settings.console.theme {
        app::check_theme(theme, &settings.console.config_dir).map_err(super::BadValue)?;
    }
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the console needs a terminal, and stdin or stdout is not one; run `arbdesk --serve` for the headless pipeline and API"
        );
    }
    let mut runtime = serve::start(&settings).await?;
    // Refused by the store or the lease, the console stops fetching and stays open.
    runtime.stop_fetching_when_refused();
    let api_activity = runtime.api.as_ref().map(|(state, _)| {
        let state = state.clone();
        Arc::new(move || state.activity()) as Arc<dyn Fn() -> ApiActivity + Send + Sync>
    });
    let deps = ConsoleDeps {
        store: runtime.store.clone(),
        explainer: Some(runtime.explainer.clone()),
        status: runtime.pipeline.status(),
        generation: runtime.pipeline.generation(),
        // Refreshes go to this process's ingest stage: without one there is none to ask.
        commands: settings
            .has_role(crate::cli::Role::Ingest)
            .then(|| runtime.pipeline.commands()),
        api_activity,
        session: Session {
            source: runtime.source,
            markets: settings.markets.clone(),
            api_addr: runtime.api.as_ref().map(|(_, a)| a.to_string()),
            alert_margin_pct: settings.console.alert_margin_pct,
            hyperlinks: false,
            read_only: settings.read_only,
            stale_after_hours: settings.model.params().max_keepa_age_hours,
            fetches: settings.has_role(crate::cli::Role::Ingest),
        },
        settings: settings.console.clone(),
        data_dir: settings.data_dir.clone(),
    };
    let result = app::run(deps).await.map(|notes| {
        for n in notes {
            noteln!("{n}");
        }
    });
    if runtime.pipeline.runs_stages() {
        noteln!("arbdesk: stopping, draining in-flight updates…");
    }
    runtime.stop().await;
    result
}
