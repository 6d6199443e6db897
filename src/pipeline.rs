//! The pipeline: ingest → queue → enrich → store → detect → store.
//!
//! This module is the only place that spawns tasks and wires the stages together. The
//! stages themselves are plain values (`Enricher`, `Detector`) tested on their own.

pub mod status;

pub use status::{FxStatus, JobStatus, PipelineStatus, Source, StageStatus};
