//! `keepa.buybox`: which products a refresh asks Keepa's Buy Box data for.

/// Which products a refresh asks Keepa's Buy Box data for (`buybox=1`, 2 tokens more a
/// product and market: keepa-api.md §3). The model's sell price is the Buy Box; without it
/// a row is priced from Amazon's offer or the lowest new offer and flagged `NO_BUYBOX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuyBox {
    /// Never (`buybox = false`): 1 token a product and market.
    Off,
    /// For a product in a market where it has a route at a net profit, buying or selling
    /// (`buybox = "routes"`): a cheap pass finds the routes, and the Buy Box then prices
    /// them. A product whose profitable routes there close is refreshed without it again.
    Routes,
    /// For every product (`buybox = true`): 3 tokens a product and market.
    All,
}

impl BuyBox {
    /// As `config show` writes it: `false`, `"routes"` or `true`.
    pub fn toml(self) -> &'static str {
        match self {
            BuyBox::Off => "false",
            BuyBox::Routes => "\"routes\"",
            BuyBox::All => "true",
        }
    }

    /// Whether a product is asked with the Buy Box, given whether a route of it in the market
    /// asked is worth it (at a net profit, or asked with it at its last fetch: see
    /// `pipeline::ingest::Ingest::buybox_held`).
    pub fn asks(self, route_worth_it: bool) -> bool {
        match self {
            BuyBox::Off => false,
            BuyBox::Routes => route_worth_it,
            BuyBox::All => true,
        }
    }

    /// Reads the value of `keepa.buybox`: `true`, `false` or `"routes"`.
    pub fn from_toml(v: &toml::Value) -> Result<Self, String> {
        match v {
            toml::Value::Boolean(true) => Ok(BuyBox::All),
            toml::Value::Boolean(false) => Ok(BuyBox::Off),
            toml::Value::String(s) if s.eq_ignore_ascii_case("routes") => Ok(BuyBox::Routes),
            other => Err(format!(
                "keepa.buybox = {other}: expected true (every product, 3 tokens a product and \
                 market), \"routes\" (products with a profitable route, 1 token for the rest) or \
                 false (none)"
            )),
        }
    }
}
