//! Random choices the generator makes over and over: weighted picks from fixed tables and
//! yes/no draws, both cheap enough to run millions of times.

use rand::Rng;

/// A table of choices with integer weights, ready for fast repeated picks.
pub(crate) struct Weighted<T> {
    items: Vec<T>,
    /// Running totals of the weights: `cumulative[i]` is the sum up to and including `i`.
    cumulative: Vec<u32>,
}

impl<T: Copy> Weighted<T> {
    /// Builds from `(choice, weight)` pairs; the tables are this crate's constants, never empty.
    pub(crate) fn new(table: &[(T, u32)]) -> Weighted<T> {
        let mut total = 0;
        let cumulative = table
            .iter()
            .map(|&(_, weight)| {
                total += weight;
                total
            })
            .collect();
        Weighted { items: table.iter().map(|&(item, _)| item).collect(), cumulative }
    }

    pub(crate) fn pick(&self, rng: &mut impl Rng) -> T {
        let total = self.cumulative.last().copied().unwrap_or(0).max(1);
        let x = rng.gen_range(0..total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.items[i.min(self.items.len().saturating_sub(1))]
    }
}

/// True with probability `p` (0 to 1).
pub(crate) fn chance(rng: &mut impl Rng, p: f64) -> bool {
    rng.r#gen::<f64>() < p
}

/// A whole number in `low..=high`, nearer the low end (the smaller of two uniform draws):
/// for ages where the older are fewer.
pub(crate) fn low_skewed(rng: &mut impl Rng, low: i32, high: i32) -> i32 {
    let high = high.max(low);
    rng.gen_range(low..=high).min(rng.gen_range(low..=high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn picks_follow_the_weights() {
        let table = Weighted::new(&[('a', 1), ('b', 0), ('c', 3)]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            match table.pick(&mut rng) {
                'a' => counts[0] += 1,
                'b' => counts[1] += 1,
                _ => counts[2] += 1,
            }
        }
        assert_eq!(counts[1], 0);
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
    }
}
