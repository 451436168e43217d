//! The tracing-quality figures, computed from the ground truth and what the platform listed.

use std::time::Duration;

/// A share: `hits` out of `of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Share {
    pub hits: u64,
    pub of: u64,
}

impl Share {
    /// The share as a fraction; `None` when there is nothing to share.
    pub fn fraction(&self) -> Option<f64> {
        (self.of > 0).then(|| self.hits as f64 / self.of as f64)
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.fraction() {
            Some(x) => write!(f, "{:.1}% ({} of {})", x * 100.0, self.hits, self.of),
            None => write!(f, "– (none)"),
        }
    }
}

/// Median and 90th percentile of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub median: Duration,
    pub p90: Duration,
    pub count: usize,
}

impl Spread {
    /// The nearest-rank quantiles of `values`; `None` when there are none.
    pub fn of(mut values: Vec<Duration>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let rank = |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Some(Spread { median: rank(0.5), p90: rank(0.9), count: values.len() })
    }
}

/// When a person was listed by tracing and when they became a case, in simulated days.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fate {
    pub infected: Option<u32>,
    /// Infected by someone in the population (not one of the first cases).
    pub infected_here: bool,
    pub confirmed: Option<u32>,
    /// First listed as a contact (F1 or F2), and first listed as F1.
    pub listed: Option<u32>,
    pub listed_f1: Option<u32>,
}

impl Fate {
    /// Listed on a day before they became a case (or listed and never a case).
    fn listed_first(&self, listed: Option<u32>) -> bool {
        match (listed, self.confirmed) {
            (Some(l), Some(c)) => l < c,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Sensitivity (any generation, then F1 alone) and the false-alarm share.
pub(crate) fn tracing_quality(fates: &[Fate]) -> (Share, Share, Share) {
    let (mut any, mut f1, mut alarms) = (Share::default(), Share::default(), Share::default());
    for fate in fates {
        if fate.infected_here {
            any.of += 1;
            f1.of += 1;
            any.hits += u64::from(fate.listed_first(fate.listed));
            f1.hits += u64::from(fate.listed_first(fate.listed_f1));
        }
        if fate.listed.is_some() {
            alarms.of += 1;
            alarms.hits += u64::from(fate.infected.is_none());
        }
    }
    (any, f1, alarms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let values: Vec<Duration> = (1..=10).map(Duration::from_secs).collect();
        let spread = Spread::of(values).unwrap();
        assert_eq!((spread.median, spread.p90, spread.count), (Duration::from_secs(5), Duration::from_secs(9), 10));
        assert_eq!(Spread::of(Vec::new()), None);
    }

    #[test]
    fn listed_counts_only_before_the_case() {
        let fates = [
            // Listed the day before confirmation: found in time.
            Fate { infected: Some(3), infected_here: true, confirmed: Some(9), listed: Some(8), listed_f1: Some(8) },
            // Listed the day they were confirmed: too late.
            Fate { infected: Some(3), infected_here: true, confirmed: Some(9), listed: Some(9), listed_f1: None },
            // Listed as F2, never a case.
            Fate { infected: Some(4), infected_here: true, confirmed: None, listed: Some(6), listed_f1: None },
            // Listed, never infected: a false alarm.
            Fate { listed: Some(6), ..Fate::default() },
            // A first case: not an infectee of the population.
            Fate { infected: Some(0), confirmed: Some(5), ..Fate::default() },
        ];
        let (any, f1, alarms) = tracing_quality(&fates);
        assert_eq!(any, Share { hits: 2, of: 3 });
        assert_eq!(f1, Share { hits: 1, of: 3 });
        assert_eq!(alarms, Share { hits: 1, of: 4 });
    }
}
