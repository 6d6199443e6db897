//! The catalogue's own checks: Buy Box history and update times.
use super::*;

/// The Buy Box history ends where the current landed price is, for every product with
/// shipping on its Buy Box and without: a triple's price excludes the shipping.
#[test]
fn buy_box_history_ends_at_the_current_landed_price() {
    let cat = Catalog::new(42);
    let opts = Options::new().with_history(7).with_stats(90).with_buybox();
    let now = 1_795_586_400_000;
    let (mut shipped, mut checked) = (0, 0);
    for i in 0..300 {
        let asin: Asin = asin_from(i).parse().unwrap();
        for market in Market::ALL {
            let p = cat.product(&asin, market, now, opts);
            let (Some(csv), Some(stats)) = (p.product.csv.as_ref(), p.product.stats.as_ref())
            else {
                continue;
            };
            let Some(Some(series)) = csv.get(18) else {
                continue;
            };
            let last = &series[series.len() - 3..];
            let landed = if last[1] >= 0 {
                last[1] + last[2].max(0)
            } else {
                -1
            };
            let current = stats.current.as_ref().and_then(|c| c.get(18).copied());
            assert_eq!(Some(landed), current, "{asin} in {market}: {last:?}");
            if last[1] >= 0 {
                assert_eq!(
                    stats.buy_box_price,
                    Some(last[1]),
                    "{asin} in {market}: {last:?}"
                );
            }
            checked += 1;
            shipped += usize::from(last[2] > 0);
        }
    }
    assert!(
        checked > 1000 && shipped > 50,
        "{checked} checked, {shipped} shipped"
    );
}

#[test]
fn last_update_only_moves_forward_and_stays_within_the_hour() {
    for key in [1_u64, 42, 0xdead_beef, u64::MAX] {
        let mut prev = i64::MIN;
        for now in 7_000_000..7_003_000 {
            let t = last_update(key, now);
            assert!(
                t >= prev && t <= now && now - t < 60,
                "key {key} at {now}: {t}"
            );
            prev = t;
        }
    }
}
