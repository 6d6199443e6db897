//! The console's exports (`e`, `:export json`): the rows shown or marked, written to a new
//! file under the data dir's `exports/`, never over another.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use chrono::Utc;

use crate::domain::OpportunityKey;
use crate::pipeline::Detect;
use crate::store::Store;
use crate::tui::action::Format;
use crate::tui::model::Query;

/// The rows an export writes: those of `keys`, in that order, read with `query`; without
/// keys, every row `query` matches, in the store's order.
pub(super) struct Rows {
    pub(super) store: Arc<dyn Store>,
    pub(super) explainer: Option<Arc<dyn Detect>>,
    pub(super) query: Query,
    pub(super) keys: Option<Vec<OpportunityKey>>,
}

pub(super) async fn export(
    Rows {
        store,
        explainer,
        query,
        keys,
    }: Rows,
    format: Format,
    filter_meta: serde_json::Value,
    sort: &str,
    dir: &Path,
) -> Result<(PathBuf, usize)> {
    let mut filter = query.filter();
    filter.limit = keys
        .as_ref()
        .map_or(usize::MAX, |k| filter.limit.max(k.len()));
    let page = store
        .opportunities(filter)
        .await
        .context("reading the opportunities failed")?;
    let mut items = match keys {
        None => page.items,
        Some(keys) => {
            let mut by_key: std::collections::HashMap<OpportunityKey, _> =
                page.items.into_iter().map(|o| (o.key(), o)).collect();
            keys.iter().filter_map(|k| by_key.remove(k)).collect()
        }
    };
    if let (Format::Json, Some(x)) = (format, &explainer) {
        items = crate::pipeline::explain_all(store.as_ref(), x.as_ref(), items)
            .await
            .context("reading the products to explain the rows failed")?;
    }
    let source = crate::commands::data_source::of(store.as_ref()).await?;
    let ext = format.extension();
    let write = |w: &mut dyn std::io::Write| match format {
        Format::Csv => crate::commands::export::write_csv(w, &items, source),
        Format::Json => crate::commands::export::write_json(
            w,
            &items,
            source,
            filter_meta.clone(),
            sort,
            items.len() as u64,
        ),
    };
    crate::config::create_private_dir(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    // Simulated prices say so in the file's name too.
    let demo = if source == Some(crate::pipeline::Source::Demo) {
        "demo-"
    } else {
        ""
    };
    let stem = format!(
        "arbdesk-opportunities-{demo}{}",
        Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let path = write_new_file(dir, &stem, ext, write)?;
    Ok((path, items.len()))
}

/// Writes with `write` to `<dir>/<stem>.<ext>`, or, when that exists (two exports within
/// one second), to `<stem>-2.<ext>`, `-3` …: an export never replaces another.
fn write_new_file(
    dir: &Path,
    stem: &str,
    ext: &str,
    write: impl Fn(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<PathBuf> {
    use std::io::Write as _;
    for n in 1..1000 {
        let name = match n {
            1 => format!("{stem}.{ext}"),
            n => format!("{stem}-{n}.{ext}"),
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                let mut f = std::io::BufWriter::new(f);
                write(&mut f)
                    .and_then(|()| f.flush())
                    .with_context(|| format!("writing {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    anyhow::bail!(
        "{} already holds 999 exports named {stem}: move some away",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two exports within one second keep both files.
    #[test]
    fn an_export_never_replaces_another() {
        let dir = tempfile::tempdir().unwrap();
        let stem = "arbdesk-opportunities-20261205T114922Z";
        let first = write_new_file(dir.path(), stem, "csv", |w| w.write_all(b"35 rows")).unwrap();
        let second = write_new_file(dir.path(), stem, "csv", |w| w.write_all(b"3 rows")).unwrap();
        assert_ne!(first, second);
        assert!(
            second.ends_with(format!("{stem}-2.csv")),
            "{}",
            second.display()
        );
        assert_eq!(std::fs::read(&first).unwrap(), b"35 rows");
        assert_eq!(std::fs::read(&second).unwrap(), b"3 rows");
    }
}
