//! The API's response bodies: what a script sees, field by field.
//!
//! These types are the wire contract, separate from the engine's types on purpose: an
//! engine field can be renamed without silently changing the API, derived values (Amazon
//! URLs, `updated_at`, per-market summaries) are added here, and every type derives its
//! OpenAPI schema, so `/openapi.json` describes exactly what is serialized. Money stays
//! integer minor units with a currency; percentages are plain numbers.

mod opportunity;
mod product;
mod status;

use serde::Serialize;
use utoipa::ToSchema;

use crate::pipeline::Source;

pub use opportunity::{BreakdownLineOut, BreakdownOut, OpportunityItem};
pub use product::{
    ListingStats, MarketDetail, MarketPrices, PackageOut, Prices, ProductDetail, ProductSummary,
    SeriesOut,
};
pub use status::{
    ComponentOut, Components, FxOut, Health, JobOut, JobRunOut, KeepaOut, PipelineOut, ReporterOut,
    StageOut, Stats, merge_jobs,
};

/// One page of opportunities.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpportunityPage {
    /// `live` Keepa data or `demo` (simulated) data, as `/health` says: a page read on its
    /// own still says whose prices it holds.
    pub source: Source,
    /// Matches in all pages.
    pub total: u64,
    /// Page size used.
    pub limit: u64,
    /// Rows skipped.
    pub offset: u64,
    /// This page.
    pub items: Vec<OpportunityItem>,
}

/// One page of products.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    /// `live` Keepa data or `demo` (simulated) data, as `/health` says: a page read on its
    /// own still says whose prices it holds.
    pub source: Source,
    /// Matches in all pages.
    pub total: u64,
    /// Page size used.
    pub limit: u64,
    /// Rows skipped.
    pub offset: u64,
    /// This page.
    pub items: Vec<ProductSummary>,
}
