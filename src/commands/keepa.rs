//! The Keepa commands: `keepa-sim`, `fetch`, `token`, and the client factory.
//!
//! Demo mode is decided in one place (`keepa_source`): without a Keepa key, requests go to
//! the built-in simulator and everything printed says DEMO.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use crate::cli::{FetchArgs, SimArgs};
use crate::config::Settings;
use crate::domain::{Asin, Listing, Market, Money, text};
use crate::keepa::client::ClientConfig;
use crate::keepa::sim::{Faults, SimConfig, Simulator};
use crate::keepa::{ApiKey, KeepaClient, ProductQuery, decode_product};
use crate::pipeline::Source;

/// Builds the Keepa client the settings ask for.
///
/// A key means live data from `keepa.url`. No key and the default URL means demo data from
/// an in-process simulator. No key and another URL (e.g. `arbdesk keepa-sim`) means that
/// server, with the key `demo`.
///
/// `interactive` is for a command someone waits on (`fetch`, `token`): three attempts
/// rather than the pipeline's five, so a Keepa that does not answer is reported in about a
/// minute and a half, not several.
pub fn keepa_source(settings: &Settings, interactive: bool) -> Result<(KeepaClient, Source)> {
    let k = &settings.keepa;
    let (url, key, source) = match (&k.key, k.is_keepas_url()) {
        (Some(key), _) => (k.url.clone(), key.expose().to_string(), Source::Live),
        (None, true) => {
            let sim = Simulator::new(SimConfig {
                seed: k.demo_seed,
                ..SimConfig::default()
            });
            let base = url::Url::parse("http://keepa-sim.invalid/").context("simulator URL")?;
            let client = KeepaClient::with_transport(
                ClientConfig::new(base, ApiKey::new("demo")),
                sim.transport(),
            );
            return Ok((client, Source::Demo));
        }
        (None, false) => (k.url.clone(), "demo".to_string(), Source::Demo),
    };
    let mut config = ClientConfig::new(url, ApiKey::new(key));
    if interactive {
        config.retry.max_attempts = 3;
    }
    let client = KeepaClient::new(config).context("Could not build the Keepa HTTP client")?;
    Ok((client, source))
}

/// A one-shot command's Keepa request that failed: at a URL other than Keepa's where
/// nothing usable answered, which settings chose that URL.
fn keepa_failed(settings: &Settings, what: &str, e: crate::keepa::Error) -> anyhow::Error {
    let hint = match &e {
        // Nothing answered there (the request was never sent): the address is wrong, or
        // the server is not started.
        crate::keepa::Error::Unavailable { last, .. }
            if !settings.keepa.is_keepas_url() && last.starts_with("connection failed") =>
        {
            ". Check --keepa-url (ARBDESK_KEEPA_URL, or url in [keepa]), or start \
             `arbdesk keepa-sim --addr HOST:PORT` at that address"
        }
        // Something there answered, with errors or with what is not Keepa's JSON.
        crate::keepa::Error::Unavailable { .. } if !settings.keepa.is_keepas_url() => {
            ". The server at --keepa-url answers, but not usably: see its log, or try again"
        }
        _ => "",
    };
    anyhow::anyhow!("{what}: {e}{hint}")
}

/// `arbdesk keepa-sim`: serve until Ctrl-C.
pub async fn keepa_sim(args: &SimArgs) -> Result<()> {
    let sim = Simulator::new(SimConfig {
        seed: args.seed,
        refill_rate: args.refill_rate,
        accepted_keys: (!args.accept_keys.is_empty()).then(|| args.accept_keys.clone()),
        ..SimConfig::default()
    });
    sim.set_faults(Faults {
        error_rate: args.error_rate,
        latency: std::time::Duration::from_millis(args.latency_ms),
        malformed_body_rate: args.malformed_rate,
        malformed_product_rate: args.malformed_product_rate,
        payment_required: false,
    });
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| super::listen_failed(args.addr, "", "pick another with --addr", e))?;
    let addr = listener.local_addr()?;
    noteln!(
        "Keepa simulator listening on http://{addr} (seed {}, {} tokens/min). Try:\n  curl 'http://{addr}/product?key=demo&domain=3&asin=B0D1XD1ZV3&stats=90'",
        args.seed,
        args.refill_rate
    );
    sim.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("The simulator failed")?;
    Ok(())
}

/// The queries that fetch `asins` in every market of `markets`.
fn fetch_queries(asins: &[Asin], markets: &[Market], buybox: bool) -> Vec<ProductQuery> {
    markets
        .iter()
        .map(|&m| {
            let mut q = ProductQuery::new(m, asins.to_vec());
            q.buybox = buybox;
            q
        })
        .collect()
}

/// What a fetch got: the listings decoded, and what it did not get.
pub struct Fetched {
    /// The listings, in the order asked.
    pub listings: Vec<Listing>,
    /// Markets whose request failed for good, with why (the other markets still count).
    pub failed: Vec<(Market, anyhow::Error)>,
    /// Products Keepa's answers left out or that did not decode (each logged as it came).
    pub skipped: usize,
}

/// Fetches `asins` in every market of `markets`, decoding each product. A market whose
/// request fails does not lose the others' listings, already paid for.
pub async fn fetch_listings(
    client: &KeepaClient,
    asins: &[Asin],
    markets: &[Market],
    buybox: bool,
) -> Fetched {
    let mut got = Fetched {
        listings: Vec::new(),
        failed: Vec::new(),
        skipped: 0,
    };
    for q in fetch_queries(asins, markets, buybox) {
        let m = q.market;
        for (batch, asked) in client
            .products_chunked(&q)
            .await
            .into_iter()
            .zip(q.requests())
        {
            let asked = &asked.asins[..];
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    let e = anyhow::Error::new(e).context(format!(
                        "Fetching {} from Keepa in {m} failed",
                        crate::domain::text::count(asked.len() as u64, "ASIN")
                    ));
                    got.failed.push((m, e));
                    continue;
                }
            };
            let mut answer = crate::keepa::answer::Answer::to(m, asked);
            for raw in &batch.products {
                match decode_product(raw) {
                    Ok(l) => match answer.take(l.asin, Some(i64::from(l.market.keepa_domain()))) {
                        Ok(()) => got.listings.push(l),
                        Err(e) => {
                            got.skipped += 1;
                            tracing::warn!("{e}.");
                        }
                    },
                    Err(e) => {
                        got.skipped += 1;
                        tracing::warn!(error = %e, "Skipped a malformed Keepa product.");
                        // Answered, if unusable: not also "left out".
                        if let Ok(asin) = e.asin.parse::<Asin>() {
                            // Whatever its domain: it is named as malformed already.
                            let _ = answer.take(asin, None);
                        }
                    }
                }
            }
            let missing = answer.missing(asked);
            if !missing.is_empty() {
                got.skipped += missing.len();
                let names: Vec<&str> = missing.iter().map(Asin::as_str).collect();
                tracing::warn!("Keepa's answer in {m} left out {}.", names.join(", "));
            }
        }
    }
    got
}

fn price(m: Option<Money>) -> String {
    m.map_or_else(|| "—".to_string(), |m| m.to_string())
}

/// Renders listings as a plain table, one line per ASIN and market.
pub fn listings_table(listings: &[Listing]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<10}  {:<2}  {:>9}  {:>9}  {:>9}  {:>8}  TITLE",
        "ASIN", "MK", "AMAZON", "NEW", "BUY BOX", "RANK"
    );
    for l in listings {
        let snap = &l.snapshot;
        // Not listed: why, and no prices (arbdesk uses none of them: Keepa's are only
        // usable for a standard product). Listed with no offer at all: said, or its row of
        // dashes reads as missing data.
        let title = match (not_listed_why(l), l.title.as_deref()) {
            (Some(why), Some(t)) => format!("(not listed: {why}) {t}"),
            (Some(why), None) => format!("(not listed: {why})"),
            (None, Some(t)) if !snap.in_stock() => format!("(no offer) {t}"),
            (None, t) => t.unwrap_or_default().to_string(),
        };
        let title = text::fit(&title, 40);
        let shown = |m: Option<Money>| if l.is_listed() { price(m) } else { price(None) };
        let _ = writeln!(
            s,
            "{:<10}  {:<2}  {:>9}  {:>9}  {:>9}  {:>8}  {}",
            l.asin.as_str(),
            l.market.code(),
            shown(snap.amazon),
            shown(snap.new),
            shown(snap.buy_box),
            snap.sales_rank
                .map_or_else(|| "—".into(), |r| r.to_string()),
            title
        );
    }
    s
}

/// Why a listing is not listed, in Keepa's words for its `productType` (keepa-api.md §7),
/// or that it has no title; `None` when it is listed.
fn not_listed_why(l: &Listing) -> Option<&'static str> {
    if l.is_listed() {
        return None;
    }
    Some(match l.product_type {
        0 => "no title",
        1 => "a download",
        2 => "an ebook",
        3 => "prices hidden (MAP)",
        4 => "Keepa knows no such product in this market",
        5 => "a variation parent",
        _ => "not a standard product",
    })
}

/// `arbdesk fetch`.
pub async fn fetch(settings: &Settings, args: &FetchArgs) -> Result<()> {
    let (client, source) = keepa_source(settings, true)?;
    let asins = Asin::distinct(&args.asins);
    // `keepa.buybox`, unless a flag says otherwise; with "routes", products named here are
    // routes being checked, so they are asked with it.
    let buybox = !args.no_buybox && (args.buybox || settings.keepa.buybox.asks(true));
    say_token_wait(settings, &client, &asins, buybox).await?;
    let waits = tokio::spawn(say_waits(client.subscribe()));
    let Fetched {
        listings,
        failed,
        skipped,
    } = fetch_listings(&client, &asins, &settings.markets, buybox).await;
    waits.abort();
    if args.json {
        for l in &listings {
            let line = serde_json::json!({
                "asin": l.asin, "market": l.market, "title": l.title, "brand": l.brand,
                "url": l.product_url(), "image_url": l.image_url, "eans": l.eans,
                "listed": l.is_listed(), "snapshot": l.snapshot, "source": source,
            });
            outln!("{line}");
        }
    } else {
        outln!("Source: {}", source.label());
        out!("{}", listings_table(&listings));
        if !buybox {
            let why = if args.no_buybox {
                "--no-buybox"
            } else {
                "keepa.buybox is off"
            };
            noteln!(
                "BUY BOX was not asked for ({why}); --buybox asks, +2 tokens a product and \
                 market."
            );
        }
    }
    print_tokens(&client);
    // What arrived is shown; what did not is the outcome: a failed market is a failure
    // (exit 1), products left out or unreadable a partial result (exit 3), as `import`.
    let markets: Vec<&str> = failed.iter().map(|(m, _)| m.code()).collect();
    if let Some((first_market, first)) = failed.into_iter().next() {
        return Err(if markets.len() == 1 {
            first
        } else {
            first.context(format!(
                "{} markets failed ({}); {}'s error follows",
                markets.len(),
                markets.join(", "),
                first_market.code()
            ))
        });
    }
    if skipped > 0 {
        let rest = if listings.is_empty() {
            "none did"
        } else {
            "the rest are shown"
        };
        return Err(super::Partial(format!(
            "{} of the products asked for did not come back usable (the warnings above say \
             which and why); {rest}",
            text::count(skipped as u64, "listing")
        ))
        .into());
    }
    Ok(())
}

/// Says each wait for tokens of 10 s or more as it begins, with what it waits for: a 429
/// that reports a deep negative balance (another process spending the same key) can hold
/// a fetch for many minutes, which would otherwise look hung.
async fn say_waits(mut status: tokio::sync::watch::Receiver<crate::keepa::ClientStatus>) {
    let mut said = None;
    while status.changed().await.is_ok() {
        let st = status.borrow_and_update().clone();
        let Some(until) = st.waiting_until.filter(|u| Some(*u) != said) else {
            continue;
        };
        let wait = (until - chrono::Utc::now()).num_seconds();
        if wait >= 10 {
            said = Some(until);
            noteln!(
                "Waiting {} for Keepa tokens ({} left, {} refilled a minute) …",
                text::span(wait),
                st.tokens_left
                    .map_or_else(|| "none known".to_string(), |l| l.to_string()),
                // What is left of the refill after Keepa's reduction, as the client counts.
                st.refill_rate.map_or_else(
                    || "?".to_string(),
                    |r| crate::keepa::bucket::net_refill(r, st.token_flow_reduction.unwrap_or(0.0))
                        .to_string()
                )
            );
        }
    }
}

/// Says up front when a fetch costs more tokens than Keepa has: it then waits for refills,
/// minutes on a small plan, and would look hung.
async fn say_token_wait(
    settings: &Settings,
    client: &KeepaClient,
    asins: &[Asin],
    buybox: bool,
) -> Result<()> {
    let markets = &settings.markets;
    client.seed().await.map_err(|e| {
        keepa_failed(
            settings,
            "Asking Keepa for the token balance failed (a fetch asks for it first)",
            e,
        )
    })?;
    let st = client.status();
    let (Some(left), Some(rate)) = (st.tokens_left, st.refill_rate) else {
        return Ok(());
    };
    let cost: i64 = fetch_queries(asins, markets, buybox)
        .iter()
        .map(ProductQuery::estimated_cost)
        .sum();
    if let Some(wait) = token_wait_minutes(cost, left, rate) {
        noteln!(
            "This fetch costs {} tokens and Keepa has {}, refilling {} a minute: it waits \
             about {} for tokens (Ctrl-C stops it; fewer ASINs or markets cost less).",
            text::thousands(cost as u64),
            text::signed_thousands(left),
            text::thousands(rate.max(0) as u64),
            text::count(wait, "minute")
        );
    }
    Ok(())
}

/// Whole minutes of refills before `cost` tokens are paid from a balance of `left`, `None`
/// when no wait is needed (or the plan does not refill: the fetch then says why it fails).
fn token_wait_minutes(cost: i64, left: i64, rate: i64) -> Option<u64> {
    let short = cost.saturating_sub(left);
    (short > 0 && rate > 0).then(|| (short.saturating_add(rate - 1) / rate) as u64)
}

fn print_tokens(client: &KeepaClient) {
    let st = client.status();
    if let (Some(left), Some(rate)) = (st.tokens_left, st.refill_rate) {
        noteln!(
            "Keepa tokens: {} left, refill {}/min.",
            text::signed_thousands(left),
            text::signed_thousands(rate)
        );
    }
}

/// `arbdesk token`.
pub async fn token(settings: &Settings) -> Result<()> {
    let (client, source) = keepa_source(settings, true)?;
    let env = client
        .token()
        .await
        .map_err(|e| keepa_failed(settings, "Asking Keepa for the token balance failed", e))?;
    // Keepa refills once a minute; a wait past that is an answer not to trust, said as such.
    let next = match env.refill_in {
        ms @ 0..=60_000 => format!("next refill in {:.1} s", ms as f64 / 1000.0),
        ms if ms < 0 => format!("next refill due now (Keepa's answer says {ms} ms)"),
        ms => format!(
            "next refill in {} s by Keepa's answer, which is not a minute's refill: the \
             client waits an hour at most",
            text::thousands(u64::try_from(ms / 1000).unwrap_or(0))
        ),
    };
    outln!(
        "{}: {} tokens left, refill {} per minute, {next}.",
        source.label(),
        text::signed_thousands(env.tokens_left),
        text::signed_thousands(env.refill_rate),
    );
    if source == crate::pipeline::Source::Demo {
        if settings.keepa.is_keepas_url() {
            // Each process runs a simulator of its own: this one was started for the command.
            outln!(
                "(This command's own simulator, started afresh: a running arbdesk shows its \
                 balance in its header, /stats and the health view.)"
            );
        } else {
            outln!(
                "(The simulator at {}, asked with the key `demo`.)",
                settings.keepa.url
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::token_wait_minutes;

    #[test]
    fn a_fetch_beyond_the_balance_waits_whole_minutes_of_refills() {
        assert_eq!(token_wait_minutes(300, 600, 10), None, "paid at once");
        assert_eq!(token_wait_minutes(4_500, 600, 10), Some(390));
        assert_eq!(
            token_wait_minutes(601, 600, 10),
            Some(1),
            "a part of a minute"
        );
        assert_eq!(
            token_wait_minutes(100, -50, 20),
            Some(8),
            "a debt is paid first"
        );
        assert_eq!(
            token_wait_minutes(100, 0, 0),
            None,
            "a plan that does not refill"
        );
    }
}
