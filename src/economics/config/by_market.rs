//! Tables keyed by market, each market once however it is spelled. Market codes are read
//! without regard to case (`UK`, `uk`), so `rates = { UK = 0.2, Uk = 0.1 }` names the UK
//! twice; serde's own map would let the second replace the first without a word, and every
//! figure of that market would then be computed at a rate nobody meant.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::domain::Market;

/// A `{ MARKET = value, … }` table, refused when a market is given twice.
pub fn deserialize<'de, D, V>(d: D) -> Result<BTreeMap<Market, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    d.deserialize_map(ByMarket(PhantomData)).map(|m| m.0)
}

/// Named tables of market tables (`reduced = { books = { DE = 0.07, … } }`), each inner
/// table refused when a market is given twice.
pub fn classes<'de, D, V>(d: D) -> Result<BTreeMap<String, BTreeMap<Market, V>>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    let named = BTreeMap::<String, Unique<V>>::deserialize(d)?;
    Ok(named.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// A market table read by [`ByMarket`].
struct Unique<V>(BTreeMap<Market, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Unique<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ByMarket(PhantomData))
    }
}

struct ByMarket<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for ByMarket<V> {
    type Value = Unique<V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table keyed by market (UK, DE, FR, IT, ES)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        let mut spelled: BTreeMap<Market, String> = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let market: Market = key.parse().map_err(A::Error::custom)?;
            let value = map.next_value()?;
            if let Some(first) = spelled.get(&market) {
                return Err(A::Error::custom(format!(
                    "{market} is given twice (as '{first}' and '{key}'): market codes are read \
                     without regard to case; give each market once"
                )));
            }
            spelled.insert(market, key);
            out.insert(market, value);
        }
        Ok(Unique(out))
    }
}
