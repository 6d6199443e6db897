//! A `/product` answer against its request. Keepa sends one object per asked ASIN
//! (keepa-api.md §2.1, "match by `asin` + `domainId`, never by position"), so an ASIN
//! nobody asked for, a second copy of one, or an asked one left out is the server's
//! mistake: named, never stored as if asked. So is an object of another domain than the
//! one asked: stored, it would put one market's prices (pence, say) in another's.

use std::collections::HashSet;

use crate::domain::{Asin, Market};

/// The ASINs one request asked for in one market, and those its answer has held so far.
#[derive(Debug)]
pub struct Answer {
    market: Market,
    asked: HashSet<Asin>,
    seen: HashSet<Asin>,
}

impl Answer {
    /// An answer to a request for `asked` in `market`.
    pub fn to(market: Market, asked: &[Asin]) -> Self {
        Answer {
            market,
            asked: asked.iter().copied().collect(),
            seen: HashSet::with_capacity(asked.len()),
        }
    }

    /// Whether the product for `asin`, of Keepa domain `domain` (`None`: the object says
    /// none that is a number, which decoding names), is taken: asked, in the market asked,
    /// and the first copy. Otherwise why it is left out.
    pub fn take(&mut self, asin: Asin, domain: Option<i64>) -> Result<(), String> {
        let asked_domain = i64::from(self.market.keepa_domain());
        if let Some(d) = domain.filter(|d| *d != asked_domain) {
            let which = Market::from_keepa_domain(d)
                .map_or_else(|| "no market arbdesk knows".to_string(), |m| m.to_string());
            return Err(format!(
                "Keepa answered {asin} for domain {d} ({which}) to a request in {} (domain \
                 {asked_domain}); left out, not stored as {}",
                self.market, self.market
            ));
        }
        if !self.asked.contains(&asin) {
            return Err(format!(
                "Keepa answered {asin}, which this request did not ask for; left out"
            ));
        }
        if !self.seen.insert(asin) {
            return Err(format!(
                "Keepa answered {asin} twice in one response; the first copy is kept"
            ));
        }
        Ok(())
    }

    /// The asked ASINs the answer left out, in the order they were asked.
    pub fn missing(&self, asked: &[Asin]) -> Vec<Asin> {
        asked
            .iter()
            .filter(|a| !self.seen.contains(a))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asin(s: &str) -> Asin {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn an_answer_takes_each_asked_asin_once_and_names_the_rest() {
        let asked = [asin("B0ASKED001"), asin("B0ASKED002"), asin("B0ASKED003")];
        let mut a = Answer::to(Market::DE, &asked);
        assert_eq!(a.take(asked[1], Some(3)), Ok(()));
        let twice = a.take(asked[1], Some(3)).unwrap_err();
        assert!(twice.contains("B0ASKED002 twice"), "{twice}");
        let other = a.take(asin("B0NOTASKED"), None).unwrap_err();
        assert!(
            other.contains("B0NOTASKED, which this request did not ask for"),
            "{other}"
        );
        assert_eq!(a.missing(&asked), vec![asked[0], asked[2]]);
    }

    #[test]
    fn an_object_of_another_domain_is_left_out_and_its_asin_counts_as_missing() {
        let asked = [asin("B0ASKED001"), asin("B0ASKED002")];
        let mut a = Answer::to(Market::DE, &asked);
        let fr = a.take(asked[0], Some(4)).unwrap_err();
        assert!(
            fr.contains("B0ASKED001 for domain 4 (FR) to a request in DE (domain 3)"),
            "{fr}"
        );
        let odd = a.take(asked[1], Some(7)).unwrap_err();
        assert!(odd.contains("domain 7 (no market arbdesk knows)"), "{odd}");
        assert_eq!(a.missing(&asked), asked.to_vec());
        // The right copy after a wrong one is taken.
        assert_eq!(a.take(asked[0], Some(3)), Ok(()));
    }
}
