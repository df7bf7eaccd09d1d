//! Latency recording and the statistics of etcd's benchmark report.
//!
//! Latencies go into an HDR histogram in microseconds with three significant
//! digits (0.1% error), so memory stays fixed however many requests a run
//! makes; etcd keeps every latency in a slice instead. Clients share a few
//! [`Recorder`] shards behind mutexes (held for one increment) and the shards
//! are merged at the end.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Deserialize;
use serde::Serialize;

/// The percentiles etcd's report prints.
pub(crate) const PERCENTILES: [f64; 8] = [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9];
/// The number of equal-width buckets of the response time histogram
/// (etcd adds one more for the slowest latency).
pub(crate) const HISTOGRAM_BUCKETS: usize = 10;
/// The largest latency recorded exactly; slower ones count as this (one hour).
const MAX_LATENCY_MICROS: u64 = 3_600_000_000;
/// The most distinct error messages kept; further ones are counted together.
const MAX_ERROR_KINDS: usize = 64;
/// The key under which errors beyond [`MAX_ERROR_KINDS`] are counted.
const OTHER_ERRORS: &str = "(other errors)";

/// The latencies and errors of some requests.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    latencies: Histogram<u64>,
    errors: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub(crate) fn new() -> Self {
        // The bounds are constants that satisfy hdrhistogram's rules
        // (low >= 1, high >= 2 * low, sigfig <= 5), so creation cannot fail.
        let latencies = match Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3) {
            Ok(h) => h,
            Err(e) => unreachable!("constant histogram bounds are valid: {e:?}"),
        };
        Self {
            latencies,
            errors: BTreeMap::new(),
        }
    }

    /// Records one successful request that took `latency`.
    pub(crate) fn success(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latencies
            .saturating_record(micros.min(MAX_LATENCY_MICROS));
    }

    /// Records one failed request by its error message.
    pub(crate) fn error(&mut self, message: &str) {
        self.error_n(message, 1);
    }

    /// Records `count` failed requests with the same error message.
    pub(crate) fn error_n(&mut self, message: &str, count: u64) {
        if count == 0 {
            return;
        }
        let key = if self.errors.contains_key(message) || self.errors.len() < MAX_ERROR_KINDS {
            message
        } else {
            OTHER_ERRORS
        };
        *self.errors.entry(key.to_string()).or_default() += count;
    }

    /// Adds everything `other` recorded.
    pub(crate) fn merge(&mut self, other: &Recorder) {
        // Both histograms have the same fixed bounds, so adding cannot fail.
        if let Err(e) = self.latencies.add(&other.latencies) {
            unreachable!("histograms with equal bounds add: {e:?}");
        }
        for (message, count) in &other.errors {
            self.error_n(message, *count);
        }
    }

    /// The number of successful requests.
    #[cfg(test)]
    pub(crate) fn successes(&self) -> u64 {
        self.latencies.len()
    }

    /// The number of failed requests.
    pub(crate) fn failures(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// A fixed set of recorders that many tasks share; task `i` uses shard
/// `i % shards`, so contention stays low and memory bounded.
#[derive(Debug)]
pub(crate) struct SharedRecorder {
    shards: Vec<Mutex<Recorder>>,
}

impl SharedRecorder {
    /// `shards` recorders (at least one).
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Recorder::new()))
                .collect(),
        }
    }

    /// Runs `f` on the shard of task `task`.
    pub(crate) fn with<R>(&self, task: usize, f: impl FnOnce(&mut Recorder) -> R) -> R {
        let shard = &self.shards[task % self.shards.len()];
        // A panic while holding the lock leaves a histogram that is still
        // valid, so a poisoned lock is used as is.
        let mut guard = shard.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// All shards merged.
    pub(crate) fn merged(&self) -> Recorder {
        let mut all = Recorder::new();
        for shard in &self.shards {
            all.merge(&shard.lock().unwrap_or_else(|p| p.into_inner()));
        }
        all
    }
}

/// One percentile of the latency distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Percentile {
    /// The percentile, e.g. 99.9.
    pub(crate) percent: f64,
    /// The latency at or below which that share of the requests finished.
    pub(crate) secs: f64,
}

/// One bar of the response time histogram: requests slower than the
/// previous bar's bound and at most `le_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Bucket {
    /// The bucket's upper bound.
    pub(crate) le_secs: f64,
    /// The requests in it.
    pub(crate) count: u64,
}

/// The statistics of etcd's benchmark report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// Wall-clock time of the run.
    pub(crate) total_secs: f64,
    /// Successful requests.
    pub(crate) requests: u64,
    /// Failed requests.
    pub(crate) errors: u64,
    /// Successful requests per second of wall-clock time.
    pub(crate) requests_per_sec: f64,
    /// The fastest request.
    pub(crate) fastest_secs: f64,
    /// The slowest request.
    pub(crate) slowest_secs: f64,
    /// The mean latency.
    pub(crate) average_secs: f64,
    /// The standard deviation of the latency.
    pub(crate) stddev_secs: f64,
    /// The latency at each of [`PERCENTILES`].
    pub(crate) percentiles: Vec<Percentile>,
    /// The response time histogram, etcd's eleven bars.
    pub(crate) histogram: Vec<Bucket>,
    /// Failed requests by error message.
    pub(crate) error_distribution: BTreeMap<String, u64>,
}

impl Summary {
    /// The statistics of `rec` for a run that took `elapsed`.
    pub(crate) fn new(rec: &Recorder, elapsed: Duration) -> Self {
        let h = &rec.latencies;
        let total_secs = elapsed.as_secs_f64();
        let requests = h.len();
        let empty = requests == 0;
        let secs = |micros: f64| if empty { 0.0 } else { micros / 1e6 };
        Summary {
            total_secs,
            requests,
            errors: rec.failures(),
            requests_per_sec: if total_secs > 0.0 {
                requests as f64 / total_secs
            } else {
                0.0
            },
            fastest_secs: secs(h.min() as f64),
            slowest_secs: secs(h.highest_equivalent(h.max()) as f64),
            average_secs: secs(h.mean()),
            stddev_secs: secs(h.stdev()),
            percentiles: PERCENTILES
                .iter()
                .map(|&p| Percentile {
                    percent: p,
                    secs: secs(h.value_at_percentile(p) as f64),
                })
                .collect(),
            histogram: if empty { Vec::new() } else { histogram(h) },
            error_distribution: rec.errors.clone(),
        }
    }

    /// The latency at percentile `percent`, if it is one of [`PERCENTILES`].
    #[cfg(test)]
    pub(crate) fn percentile_secs(&self, percent: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|p| p.percent == percent)
            .map(|p| p.secs)
    }
}

/// etcd's histogram: ten equal-width buckets from the fastest latency, and an
/// eleventh ending at the slowest; each request counts in the first bucket
/// whose bound is not below it.
fn histogram(h: &Histogram<u64>) -> Vec<Bucket> {
    let fastest = h.min() as f64;
    let slowest = h.highest_equivalent(h.max()) as f64;
    let width = (slowest - fastest) / HISTOGRAM_BUCKETS as f64;
    let mut bounds: Vec<f64> = (0..HISTOGRAM_BUCKETS)
        .map(|i| fastest + width * i as f64)
        .collect();
    bounds.push(slowest);
    let mut counts = vec![0u64; bounds.len()];
    for v in h.iter_recorded() {
        // Each recorded bucket stands for values from its lowest equivalent.
        let value = h.lowest_equivalent(v.value_iterated_to()) as f64;
        let i = bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(bounds.len() - 1);
        if let Some(c) = counts.get_mut(i) {
            *c += v.count_at_value();
        }
    }
    bounds
        .into_iter()
        .zip(counts)
        .map(|(b, count)| Bucket {
            le_secs: b / 1e6,
            count,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn summary_of_known_latencies() {
        let mut r = Recorder::new();
        for i in 1..=100 {
            r.success(ms(i));
        }
        r.error("etcdserver: too many requests");
        r.error("etcdserver: too many requests");
        let s = Summary::new(&r, Duration::from_secs(2));
        assert_eq!((s.requests, s.errors), (100, 2));
        assert!((s.requests_per_sec - 50.0).abs() < 1e-9);
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(close(s.fastest_secs, 0.001), "{}", s.fastest_secs);
        assert!(close(s.slowest_secs, 0.100), "{}", s.slowest_secs);
        assert!(close(s.average_secs, 0.0505), "{}", s.average_secs);
        // Population standard deviation of 1..=100 ms is 28.866 ms.
        assert!(close(s.stddev_secs, 0.028866), "{}", s.stddev_secs);
        assert!(close(s.percentile_secs(50.0).unwrap(), 0.050));
        assert!(close(s.percentile_secs(99.0).unwrap(), 0.099));
        assert!(close(s.percentile_secs(10.0).unwrap(), 0.010));
        assert_eq!(
            s.error_distribution.get("etcdserver: too many requests"),
            Some(&2)
        );
    }

    #[test]
    fn histogram_has_eleven_bars_covering_every_request() {
        let mut r = Recorder::new();
        for i in 0..1000 {
            r.success(Duration::from_micros(1000 + i * 10));
        }
        let s = Summary::new(&r, Duration::from_secs(1));
        assert_eq!(s.histogram.len(), HISTOGRAM_BUCKETS + 1);
        assert_eq!(s.histogram.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert!(s.histogram.windows(2).all(|w| w[0].le_secs <= w[1].le_secs));
        assert_eq!(s.histogram.last().unwrap().le_secs, s.slowest_secs);
        // Uniform latencies spread evenly over the ten inner buckets.
        for b in &s.histogram[1..HISTOGRAM_BUCKETS] {
            assert!((90..=110).contains(&b.count), "{b:?}");
        }
    }

    #[test]
    fn empty_run_reports_zeros() {
        let s = Summary::new(&Recorder::new(), Duration::from_secs(1));
        assert_eq!(
            (s.requests, s.requests_per_sec, s.slowest_secs),
            (0, 0.0, 0.0)
        );
        assert!(s.histogram.is_empty());
    }

    #[test]
    fn shards_merge_into_one_recorder() {
        let shared = SharedRecorder::new(4);
        for task in 0..10 {
            shared.with(task, |r| r.success(ms(1)));
            shared.with(task, |r| r.error(&format!("e{}", task % 2)));
        }
        let all = shared.merged();
        assert_eq!((all.successes(), all.failures()), (10, 10));
        assert_eq!(all.errors.get("e0"), Some(&5));
    }

    #[test]
    fn error_kinds_are_bounded() {
        let mut r = Recorder::new();
        for i in 0..(MAX_ERROR_KINDS + 10) {
            r.error(&format!("error {i}"));
        }
        assert_eq!(r.errors.len(), MAX_ERROR_KINDS + 1);
        assert_eq!(r.errors.get(OTHER_ERRORS), Some(&10));
        assert_eq!(r.failures(), (MAX_ERROR_KINDS + 10) as u64);
    }

    #[test]
    fn latencies_beyond_an_hour_saturate() {
        let mut r = Recorder::new();
        r.success(Duration::from_secs(10_000));
        let s = Summary::new(&r, Duration::from_secs(1));
        assert_eq!(s.requests, 1);
        assert!(s.slowest_secs >= 3600.0 && s.slowest_secs < 3610.0);
    }
}
