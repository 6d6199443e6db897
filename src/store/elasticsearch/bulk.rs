//! Bulk requests as NDJSON lines, and the per-item results Elasticsearch answers with.

use serde_json::{Value, json};

/// One item of a bulk response.
#[derive(Debug)]
pub(crate) struct Item {
    /// HTTP status of the item.
    pub status: u16,
    /// `created`, `updated`, `deleted`, `noop`, `not_found`.
    pub result: Option<String>,
    /// The error type (`version_conflict_engine_exception`, …) when it failed.
    pub error: Option<String>,
    /// The error's reason.
    pub reason: Option<String>,
}

/// A bulk request being built: NDJSON lines, and what each item is for error messages.
#[derive(Default)]
pub(crate) struct Bulk {
    pub(super) lines: Vec<String>,
    pub(super) what: Vec<String>,
}

impl Bulk {
    fn action(&mut self, action: &str, meta: Value, doc: Option<Value>) {
        let id = meta["_id"].as_str().unwrap_or_default().to_string();
        let index = meta["_index"].as_str().unwrap_or_default().to_string();
        self.what.push(format!("{action} {index}/{id}"));
        self.lines.push(json!({ action: meta }).to_string());
        if let Some(doc) = doc {
            self.lines.push(doc.to_string());
        }
    }

    /// Writes `doc` as document `id` of `index` (the full index name).
    pub fn index(&mut self, index: &str, id: &str, doc: Value) {
        self.action("index", json!({"_index": index, "_id": id}), Some(doc));
    }

    /// Writes `doc` unless a document with a version of at least `version` is stored.
    pub fn index_versioned(&mut self, index: &str, id: &str, version: i64, doc: Value) {
        let meta = json!({"_index": index, "_id": id, "version": version,
                          "version_type": "external_gte"});
        self.action("index", meta, Some(doc));
    }

    /// Creates document `id` unless it exists (then the item fails with 409).
    pub fn create(&mut self, index: &str, id: &str, doc: Value) {
        self.action("create", json!({"_index": index, "_id": id}), Some(doc));
    }

    /// Merges the fields of `partial` into document `id`; `upsert` creates it if missing.
    pub fn update(&mut self, index: &str, id: &str, partial: Value, upsert: bool) {
        let body = if upsert {
            json!({"doc": partial, "doc_as_upsert": true})
        } else {
            json!({"doc": partial})
        };
        self.action("update", json!({"_index": index, "_id": id}), Some(body));
    }

    /// Deletes document `id` (a missing one is `not_found`, not an error).
    pub fn delete(&mut self, index: &str, id: &str) {
        self.action("delete", json!({"_index": index, "_id": id}), None);
    }

    /// No items.
    pub fn is_empty(&self) -> bool {
        self.what.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_lines_are_ndjson_with_metadata() {
        let mut b = Bulk::default();
        b.index("p-x", "A:UK", json!({"a": 1}));
        b.delete("p-x", "B");
        b.update("p-y", "C", json!({"f": 2}), true);
        b.index_versioned("p-j", "refresh", 7, json!({}));
        assert_eq!(b.what.len(), 4);
        assert_eq!(b.lines.len(), 7);
        assert_eq!(b.lines[0], r#"{"index":{"_id":"A:UK","_index":"p-x"}}"#);
        assert_eq!(b.lines[2], r#"{"delete":{"_id":"B","_index":"p-x"}}"#);
        assert_eq!(b.lines[4], r#"{"doc":{"f":2},"doc_as_upsert":true}"#);
        assert!(b.lines[5].contains(r#""version":7"#));
        assert!(b.lines[5].contains("external_gte"));
    }
}
