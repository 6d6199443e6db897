//! A `/product` answer against its request. Keepa sends one object per asked ASIN
//! (keepa-api.md §2.1, "match by `asin` + `domainId`, never by position"), so an ASIN
//! nobody asked for, a second copy of one, or an asked one left out is the server's
//! mistake: named, never stored as if asked (the market is checked by decoding).

use std::collections::HashSet;

use crate::domain::Asin;

/// The ASINs one request asked for, and those its answer has held so far.
#[derive(Debug)]
pub struct Answer {
    asked: HashSet<Asin>,
    seen: HashSet<Asin>,
}

impl Answer {
    /// An answer to a request for `asked`.
    pub fn to(asked: &[Asin]) -> Self {
        Answer {
            asked: asked.iter().copied().collect(),
            seen: HashSet::with_capacity(asked.len()),
        }
    }

    /// Whether the product for `asin` is taken: asked, and the first copy. Otherwise
    /// why it is left out.
    pub fn take(&mut self, asin: Asin) -> Result<(), String> {
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
        let mut a = Answer::to(&asked);
        assert_eq!(a.take(asked[1]), Ok(()));
        let twice = a.take(asked[1]).unwrap_err();
        assert!(twice.contains("B0ASKED002 twice"), "{twice}");
        let other = a.take(asin("B0NOTASKED")).unwrap_err();
        assert!(
            other.contains("B0NOTASKED, which this request did not ask for"),
            "{other}"
        );
        assert_eq!(a.missing(&asked), vec![asked[0], asked[2]]);
    }
}
