//! `arbdesk export`: opportunities as CSV or JSON, with the filters of the API.
//!
//! Numbers are raw (dot decimal, minor units converted to major with two decimals, no
//! currency symbols), so spreadsheets and scripts read them as numbers. Prices are in their
//! market's currency: `buy_price` and `max_buy_price` in `buy_currency`; `sell_price`,
//! `target_sell_price` and `break_even_sell_price` in `sell_currency`; the `_eur` columns
//! in EUR.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use chrono::{SecondsFormat, Utc};

use crate::api::dto::OpportunityItem;
use crate::cli::ExportArgs;
use crate::config::Settings;
use crate::domain::{Market, Money, Opportunity};
use crate::pipeline::Source;
use crate::store::{OpportunityFilter, OpportunitySort, SortOrder};

/// The formats an export is written in: `export --format` and the console's `e` / `:export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values, one row per opportunity.
    Csv,
    /// `{meta, rows}` JSON.
    Json,
}

impl ExportFormat {
    /// The file name extension: `csv`, `json`.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A free-text field (a title from Keepa): as [`csv_field`], made inert for a spreadsheet
/// ([`inert_cell`](crate::domain::text::inert_cell)).
pub fn csv_text(s: &str) -> String {
    csv_field(&crate::domain::text::inert_cell(s))
}

const HEADER: &str = "asin,title,buy_market,sell_market,buy_price,buy_currency,sell_price,sell_currency,gross_margin_eur,gross_margin_pct,net_profit_eur,net_margin_pct,roi_pct,expected_monthly_profit_eur,max_buy_price,target_sell_price,break_even_sell_price,ranked,flags,buy_url,sell_url,updated_at,first_seen,buy_observed_at,sell_observed_at,fx_date,fx_rate,vat_table,fee_table,brand,sales_rank,monthly_sold,rank_drops30";

fn opt_money(m: Option<Money>) -> String {
    m.map(Money::decimal_string).unwrap_or_default()
}

/// One opportunity as a CSV line (no newline).
pub fn csv_row(o: &Opportunity) -> String {
    // Net figures unknown (`Opportunity::has_net`): the fields are empty, not zero.
    let net = o.has_net();
    let net_money = |m: Money| {
        if net {
            m.decimal_string()
        } else {
            String::new()
        }
    };
    let net_pct = |v: f64| {
        if net {
            format!("{v:.2}")
        } else {
            String::new()
        }
    };
    let b = &o.breakdown;
    let mut s = String::new();
    let _ = write!(
        s,
        "{},{},{},{},{},{},{},{},{},{:.2},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        o.asin,
        csv_text(o.title.as_deref().unwrap_or("")),
        o.buy_market,
        o.sell_market,
        o.buy_price.decimal_string(),
        o.buy_price.currency,
        o.sell_price.decimal_string(),
        o.sell_price.currency,
        o.gross_margin.decimal_string(),
        o.gross_margin_pct,
        net_money(o.net_profit),
        net_pct(o.net_margin_pct),
        net_pct(o.roi_pct),
        net_money(o.expected_monthly_profit),
        opt_money(o.max_buy_price),
        opt_money(o.target_sell_price),
        opt_money(o.break_even_sell_price),
        o.ranked,
        csv_field(&o.flags.join(" ")),
        o.buy_url(),
        o.sell_url(),
        o.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        time(o.first_seen),
        // Where the figures came from (economics.md §7): the Keepa times of both sides,
        // the rate and the table versions the row was computed with.
        time(b.buy_observed_at),
        time(b.sell_observed_at),
        text(&b.fx_date),
        text(&b.fx_rate),
        text(&b.vat_table),
        text(&b.fee_table),
        // The sell market's demand as Keepa gave it, and the brand.
        o.sell_facts
            .brand
            .as_deref()
            .map(csv_text)
            .unwrap_or_default(),
        count(o.sell_facts.sales_rank),
        count(o.sell_facts.monthly_sold),
        count(o.sell_facts.rank_drops30),
    );
    s
}

fn count(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn time(t: Option<chrono::DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn text(t: &Option<std::sync::Arc<str>>) -> String {
    t.as_deref().map(csv_field).unwrap_or_default()
}

/// Writes opportunities as CSV with a header line; the last column, `source`, is `demo` or
/// `live`.
pub fn write_csv(
    w: &mut dyn std::io::Write,
    items: &[Opportunity],
    source: Option<Source>,
) -> std::io::Result<()> {
    writeln!(w, "{HEADER},source")?;
    // Every row says whose prices it has, so a demo sheet is never taken for a live one
    // (empty for a store only ever imported into).
    let source = source.map_or(String::new(), |s| s.label().to_lowercase());
    for o in items {
        writeln!(w, "{},{source}", csv_row(o))?;
    }
    Ok(())
}

/// Opportunities as `{meta: {source, filter, sort, fx_date, fee_table, vat_table,
/// generated_at, total}, rows: [...]}`, each row exactly as `/opportunities?breakdown=true`
/// returns it (so one parser reads both), with its breakdown as explained by the caller.
/// `source` is `demo` or `live` as the store is marked (`null` for a store only ever
/// imported into).
pub fn write_json(
    w: &mut dyn std::io::Write,
    items: &[Opportunity],
    source: Option<Source>,
    filter: serde_json::Value,
    sort: &str,
    total: u64,
) -> std::io::Result<()> {
    let mut json = JsonRows::begin(w, items, source, filter, sort, total)?;
    json.rows(items)?;
    json.end()
}

/// The JSON document of [`write_json`], written a few rows at a time (`rows` as they are
/// explained), so that a file of 100,000 explained rows, hundreds of megabytes, is never
/// held whole in memory. The bytes are those of `serde_json`'s pretty printer.
pub struct JsonRows<'w> {
    w: &'w mut dyn std::io::Write,
    rows: u64,
}

impl<'w> JsonRows<'w> {
    /// Writes the document's start and `meta` (its FX date and table versions from `items`,
    /// the rows to come).
    pub fn begin(
        w: &'w mut dyn std::io::Write,
        items: &[Opportunity],
        source: Option<Source>,
        filter: serde_json::Value,
        sort: &str,
        total: u64,
    ) -> std::io::Result<Self> {
        let meta = serde_json::json!({
            "source": source.map(|s| s.label().to_lowercase()),
            "filter": filter,
            "sort": sort,
            "fx_date": items.iter().find_map(|o| o.breakdown.fx_date.clone()),
            "fee_table": items.iter().find_map(|o| o.breakdown.fee_table.clone()),
            "vat_table": items.iter().find_map(|o| o.breakdown.vat_table.clone()),
            "generated_at": Utc::now().to_rfc3339(),
            "total": total,
        });
        write!(w, "{{\n  \"meta\": {},\n  \"rows\": [", nested(&meta, 1)?)?;
        Ok(JsonRows { w, rows: 0 })
    }

    /// Writes `items` as the next rows.
    pub fn rows(&mut self, items: &[Opportunity]) -> std::io::Result<()> {
        for o in items {
            let sep = if self.rows == 0 { "" } else { "," };
            let row = nested(&OpportunityItem::from_domain(o, true), 2)?;
            write!(self.w, "{sep}\n    {row}")?;
            self.rows += 1;
        }
        Ok(())
    }

    /// Ends the document.
    pub fn end(self) -> std::io::Result<()> {
        if self.rows == 0 {
            writeln!(self.w, "]\n}}")
        } else {
            writeln!(self.w, "\n  ]\n}}")
        }
    }
}

/// `value` pretty-printed as it reads `depth` levels deep in a pretty document: its lines
/// after the first indented by two spaces a level (a JSON string holds no raw newline).
fn nested(value: &impl serde::Serialize, depth: usize) -> std::io::Result<String> {
    let text = serde_json::to_string_pretty(value)?;
    Ok(text.replace('\n', &format!("\n{}", "  ".repeat(depth))))
}

/// The filter an export asks for. The tracked markets (`--markets`) keep the routes
/// between them, as the console shows them; `--buy`/`--sell` given choose for themselves.
pub fn filter(args: &ExportArgs, markets: &[Market]) -> Result<OpportunityFilter> {
    let tracked = |given: &[Market]| -> Vec<Market> {
        if !given.is_empty() {
            given.to_vec()
        } else if Market::ALL.iter().all(|m| markets.contains(m)) {
            Vec::new()
        } else {
            markets.to_vec()
        }
    };
    if let [only] = markets
        && args.buy.is_empty()
        && args.sell.is_empty()
    {
        return Err(super::BadValue(format!(
            "--markets names one market ({only}), and a route needs two: name two or more \
             (e.g. --markets {}) to export the routes between them, or choose with --buy/--sell",
            [
                *only,
                if *only == Market::DE {
                    Market::FR
                } else {
                    Market::DE
                }
            ]
            .map(|m| m.code().to_lowercase())
            .join(",")
        ))
        .into());
    }
    Ok(OpportunityFilter {
        min_gross_margin_pct: args.min_margin,
        min_net_margin_pct: args.min_net_margin,
        min_profit_cents: args.min_profit,
        min_roi_pct: args.min_roi,
        buy: tracked(&args.buy),
        sell: tracked(&args.sell),
        ranked: match (args.ranked, args.unranked) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        sort: args.sort,
        descending: args.order.is_descending(),
        limit: args.limit,
        ..OpportunityFilter::default()
    })
}

/// Runs `arbdesk export`.
pub async fn export(settings: &Settings, args: &ExportArgs) -> Result<()> {
    // `-o -` is standard output, as `import -` is standard input.
    let output = args
        .output
        .as_deref()
        .filter(|p| *p != std::path::Path::new("-"));
    if let Some(path) = output {
        super::check_output_file(settings, path, "-o")?;
    }
    let store = super::open_existing_store(settings).await?;
    let f = filter(args, &settings.markets)?;
    let terms = match args.filter.as_deref() {
        Some(t) => crate::filter::Filter::parse(t).map_err(|e| anyhow::anyhow!("--filter: {e}"))?,
        None => crate::filter::Filter::default(),
    };
    let page = crate::filter::select(store.as_ref(), f.clone(), &terms, chrono::Utc::now())
        .await
        .context("Reading opportunities failed")?;
    // As the options were given (`min_profit` in euros), the ones not given left out.
    let mut filter_meta = serde_json::json!({
        "min_margin": f.min_gross_margin_pct, "min_net_margin": f.min_net_margin_pct,
        "min_profit": f.min_profit_cents.map(|c| c as f64 / 100.0), "min_roi": f.min_roi_pct,
        "buy": f.buy, "sell": f.sell, "ranked": f.ranked, "filter": args.filter,
    });
    if let Some(m) = filter_meta.as_object_mut() {
        m.retain(|_, v| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty)));
    }
    let filtered = filter_meta.as_object().is_some_and(|m| !m.is_empty());
    let source = super::data_source::of(store.as_ref()).await?;
    // Said once the rows are on their way: not before a file that cannot be created.
    let say_source = || match source {
        Some(Source::Demo) => noteln!("These are demo rows: simulated prices, not Keepa's."),
        Some(Source::Live) => {}
        None if !page.items.is_empty() => noteln!(
            "The store has no record of whose prices these are (it was filled by `import` \
             only): the source is left empty."
        ),
        None => {}
    };
    let rows = Rows {
        items: &page.items,
        total: page.total,
        source,
        filter: filter_meta,
        sort: format!("{} {}", args.sort.name(), args.order.name()),
        explain: (args.format == ExportFormat::Json)
            .then(|| (store.as_ref(), super::detector(settings))),
    };
    let (to, unexplained) = match output {
        Some(path) => {
            let f = std::fs::File::create(path).with_context(|| {
                format!(
                    "Could not create {}: check that its directory exists and is writable, \
                     or give -o another path",
                    path.display()
                )
            })?;
            let mut f = std::io::BufWriter::new(f);
            let unexplained = rows
                .write(&mut f, args.format)
                .await
                .map_err(|e| e.context(format!("Could not write {}", path.display())))?;
            say_source();
            (Some(path), unexplained)
        }
        None => {
            say_source();
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let unexplained = match rows.write(&mut out, args.format).await {
                Ok(n) => n,
                Err(e) => match e.downcast_ref::<std::io::Error>() {
                    Some(io) => super::stdout_failed(io),
                    None => return Err(e),
                },
            };
            (None, unexplained)
        }
    };
    // A breakdown is rebuilt with this process's tables: a row stored under others (or on
    // older prices) keeps its figures and gets no lines, and the file says why.
    if unexplained > 0 {
        noteln!(
            "warning: {} of {} rows are exported without breakdown lines: computed again \
             with this command's config they give other figures than the stored ones (other \
             economics tables, or older prices), and each says which in \
             `breakdown.unexplained`; run export with the --config the pipeline runs with",
            crate::domain::text::thousands(unexplained as u64),
            crate::domain::text::thousands(page.items.len() as u64)
        );
    }
    // Standard output holds only the rows: what was written, and a cut, is said on standard
    // error.
    let order = match (args.sort, args.order) {
        (OpportunitySort::UpdatedAt, SortOrder::Desc) => "time computed, latest first".into(),
        (OpportunitySort::UpdatedAt, SortOrder::Asc) => "time computed, oldest first".into(),
        (_, SortOrder::Desc) => args.sort.words().to_string(),
        (_, SortOrder::Asc) => format!("{}, smallest first", args.sort.words()),
    };
    if page.total == 0 && !filtered {
        noteln!(
            "The store has no opportunities yet{}: `arbdesk` (or `arbdesk --serve`) fetches \
             the watchlist and detects them, `arbdesk import` brings Keepa product lines.",
            to.map(|p| format!(" ({} has no rows)", p.display()))
                .unwrap_or_default()
        );
    } else if let Some(note) = written(page.items.len() as u64, page.total, args.limit, &order, to)
    {
        noteln!("{note}");
    }
    Ok(())
}

/// An export's rows and what its file says of them.
struct Rows<'a> {
    items: &'a [Opportunity],
    total: u64,
    source: Option<Source>,
    /// The filter as given, for JSON's `meta`.
    filter: serde_json::Value,
    /// The order, e.g. `roi_pct asc`, for JSON's `meta`.
    sort: String,
    /// Where JSON's breakdown lines come from: the stored products, computed again.
    explain: Option<(
        &'a dyn crate::store::Store,
        std::sync::Arc<dyn crate::pipeline::Detect>,
    )>,
}

/// Rows explained and written at a time in JSON: their products are read for them, and
/// their lines held, only until they are written.
const EXPLAIN_CHUNK: usize = 2_000;

impl Rows<'_> {
    /// Writes the rows in `format` to `w`; returns how many were written without breakdown
    /// lines (JSON only: see `Detect::explain`). A failed write is an `io::Error` inside.
    async fn write(&self, w: &mut dyn std::io::Write, format: ExportFormat) -> Result<usize> {
        let mut unexplained = 0;
        match (format, &self.explain) {
            (ExportFormat::Csv, _) => write_csv(w, self.items, self.source)?,
            (ExportFormat::Json, explain) => {
                let mut json = JsonRows::begin(
                    w,
                    self.items,
                    self.source,
                    self.filter.clone(),
                    &self.sort,
                    self.total,
                )?;
                for chunk in self.items.chunks(EXPLAIN_CHUNK) {
                    let Some((store, detect)) = explain else {
                        json.rows(chunk)?;
                        continue;
                    };
                    let rows =
                        crate::pipeline::explain_all(*store, detect.as_ref(), chunk.to_vec())
                            .await
                            .context("Reading the products to explain the rows failed")?;
                    unexplained += rows
                        .iter()
                        .filter(|o| o.breakdown.unexplained.is_some())
                        .count();
                    json.rows(&rows)?;
                }
                json.end()?;
            }
        }
        w.flush()?;
        Ok(unexplained)
    }
}

/// What an export wrote, as said on standard error: `None` for all the rows on standard
/// output (nothing to add to them). A cut by `--limit` says how to get the rest.
fn written(
    rows: u64,
    total: u64,
    limit: usize,
    order: &str,
    to: Option<&std::path::Path>,
) -> Option<String> {
    use crate::domain::text::thousands;
    let to_file = to
        .map(|p| format!(" to {}", p.display()))
        .unwrap_or_default();
    if total == 0 {
        return Some(format!(
            "No opportunities match these filters{}.",
            to.map(|p| format!(": {} has no rows", p.display()))
                .unwrap_or_default()
        ));
    }
    if rows < total {
        return Some(format!(
            "Wrote {} of {} opportunities{to_file}: the first by {order} (--limit {}); \
             --limit {} exports them all.",
            thousands(rows),
            thousands(total),
            thousands(limit as u64),
            total
        ));
    }
    let noun = if rows == 1 {
        "opportunity"
    } else {
        "opportunities"
    };
    to.map(|_| format!("Wrote {} {noun}{to_file}.", thousands(rows)))
}

#[cfg(test)]
mod tests {
    use super::{csv_field, csv_text, written};

    #[test]
    fn titles_a_spreadsheet_would_run_are_shown_as_text() {
        assert_eq!(
            csv_text("=HYPERLINK(\"http://evil.example\",\"click\")"),
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\""
        );
        for lead in ["+1", "-1", "@SUM(A1)", "\tx"] {
            assert_eq!(csv_text(lead), format!("'{lead}"));
        }
        // Ordinary titles, and numbers in their own columns, are left as they are.
        assert_eq!(csv_text("Kettle 1.7 L, steel"), "\"Kettle 1.7 L, steel\"");
        assert_eq!(csv_field("-5.25"), "-5.25");
    }

    const EMP: &str = "expected monthly profit";

    #[test]
    fn a_cut_export_says_how_to_get_every_row() {
        let file = std::path::Path::new("all.csv");
        assert_eq!(
            written(100_000, 111_600, 100_000, EMP, Some(file)).unwrap(),
            "Wrote 100,000 of 111,600 opportunities to all.csv: the first by expected monthly \
             profit (--limit 100,000); --limit 111600 exports them all."
        );
        assert_eq!(
            written(10, 30, 10, "ROI, smallest first", None).unwrap(),
            "Wrote 10 of 30 opportunities: the first by ROI, smallest first (--limit 10); \
             --limit 30 exports them all."
        );
        assert_eq!(
            written(5, 5, 100_000, EMP, Some(file)).unwrap(),
            "Wrote 5 opportunities to all.csv."
        );
        assert_eq!(written(5, 5, 100_000, EMP, None), None);
        assert_eq!(
            written(1, 1, 100_000, EMP, Some(file)).unwrap(),
            "Wrote 1 opportunity to all.csv."
        );
        assert_eq!(
            written(0, 0, 100_000, EMP, Some(file)).unwrap(),
            "No opportunities match these filters: all.csv has no rows."
        );
    }
}
