//! Latency histograms: HDR histograms in microseconds that merge exactly and serialize losslessly.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Largest latency a histogram tracks: one hour. Longer values are clamped, not lost.
pub const MAX_TRACKABLE_MICROS: u64 = 3_600_000_000;

/// A latency distribution in microseconds (1 µs to 1 h).
///
/// Run-wide histograms keep 3 significant digits; per-second timeline histograms keep 2, which
/// is plenty for a chart. Two histograms of different precision still merge: values are
/// re-recorded at the receiver's precision.
///
/// A finished second of a timeline is [`compact`](Self::compact)ed: only its non-empty buckets
/// are kept (a few hundred at most, against the dense form's 27 KB), so a soak's memory does not
/// grow with its length. A compact histogram answers every question exactly as the dense one
/// did; recording into it or merging into it makes it dense again.
#[derive(Clone)]
pub struct LatencyHistogram {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Dense(Histogram<u64>),
    /// `(highest value of the bucket, count)` of each non-empty bucket at `sigfig` digits.
    Sparse {
        sigfig: u8,
        buckets: Vec<(u32, u32)>,
    },
}

impl LatencyHistogram {
    /// A run-wide histogram (3 significant digits).
    pub fn new() -> Self {
        Self::with_precision(3)
    }

    /// A compact histogram for per-second timelines (2 significant digits).
    pub fn coarse() -> Self {
        Self::with_precision(2)
    }

    fn with_precision(sigfig: u8) -> Self {
        Self {
            repr: Repr::Dense(dense(sigfig)),
        }
    }

    /// The dense form, rebuilt for a compact histogram (bucket for bucket: the same answers).
    fn inner(&self) -> std::borrow::Cow<'_, Histogram<u64>> {
        match &self.repr {
            Repr::Dense(h) => std::borrow::Cow::Borrowed(h),
            Repr::Sparse { sigfig, buckets } => {
                let mut h = dense(*sigfig);
                for (value, count) in buckets {
                    h.saturating_record_n(u64::from(*value), u64::from(*count));
                }
                std::borrow::Cow::Owned(h)
            }
        }
    }

    fn inner_mut(&mut self) -> &mut Histogram<u64> {
        if let Repr::Sparse { .. } = self.repr {
            self.repr = Repr::Dense(self.inner().into_owned());
        }
        match &mut self.repr {
            Repr::Dense(h) => h,
            Repr::Sparse { .. } => unreachable!("made dense above"),
        }
    }

    fn sigfig(&self) -> u8 {
        match &self.repr {
            Repr::Dense(h) => h.sigfig(),
            Repr::Sparse { sigfig, .. } => *sigfig,
        }
    }

    /// Keeps only the non-empty buckets (a finished timeline second): see the type's docs.
    pub fn compact(&mut self) {
        if let Repr::Dense(h) = &self.repr {
            let buckets: Option<Vec<(u32, u32)>> = h
                .iter_recorded()
                .map(|v| {
                    Some((
                        u32::try_from(v.value_iterated_to()).ok()?,
                        u32::try_from(v.count_at_value()).ok()?,
                    ))
                })
                .collect();
            if let Some(buckets) = buckets {
                self.repr = Repr::Sparse {
                    sigfig: h.sigfig(),
                    buckets,
                };
            }
        }
    }

    /// The quantiles a timeline is read for, each exact: p50, p90, p99, p99.9 and the maximum,
    /// kept as five buckets holding the counts between them (40 bytes, where [`compact`]
    /// keeps hundreds of buckets for a busy second). What charts, the timeline CSV and a merge
    /// of shards' seconds read from an old second is unchanged; its finer shape (p75, the
    /// minimum, the mean) is given up.
    ///
    /// [`compact`]: Self::compact
    pub fn summarize(&mut self) {
        let n = self.count();
        if n == 0 || u32::try_from(n).is_err() {
            return self.compact();
        }
        let inner = self.inner();
        let mut buckets: Vec<(u32, u32)> = Vec::with_capacity(5);
        let mut assigned = 0u64;
        let marks = [0.5, 0.9, 0.99, 0.999, 1.0];
        for q in marks {
            let upto = ((q * n as f64).ceil() as u64).clamp(1, n);
            if upto <= assigned {
                continue;
            }
            let value = if q >= 1.0 {
                inner.max()
            } else {
                inner.value_at_quantile(q)
            };
            let value = u32::try_from(value).unwrap_or(u32::MAX);
            let count = (upto - assigned) as u32;
            match buckets.last_mut() {
                Some((last, c)) if *last == value => *c += count,
                _ => buckets.push((value, count)),
            }
            assigned = upto;
        }
        let sigfig = self.sigfig();
        self.repr = Repr::Sparse { sigfig, buckets };
    }

    /// Records one latency. Sub-microsecond values count as 1 µs, values beyond an hour as an hour.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.inner_mut()
            .saturating_record(micros.clamp(1, MAX_TRACKABLE_MICROS));
    }

    /// Adds every value of `other` to this histogram.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        let other = other.inner();
        let inner = self.inner_mut();
        if inner.sigfig() == other.sigfig() {
            // Same bounds and precision: `add` cannot fail.
            inner
                .add(&*other)
                .expect("histograms with identical bounds always add");
        } else {
            for value in other.iter_recorded() {
                inner.saturating_record_n(
                    value.value_iterated_to().clamp(1, MAX_TRACKABLE_MICROS),
                    value.count_at_value(),
                );
            }
        }
    }

    pub fn reset(&mut self) {
        self.repr = Repr::Dense(dense(self.sigfig()));
    }

    pub fn count(&self) -> u64 {
        match &self.repr {
            Repr::Dense(h) => h.len(),
            Repr::Sparse { buckets, .. } => buckets.iter().map(|(_, n)| u64::from(*n)).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Dense(h) => h.is_empty(),
            Repr::Sparse { buckets, .. } => buckets.is_empty(),
        }
    }

    /// The value at quantile `q` (0.0 ..= 1.0); zero for an empty histogram.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.inner().value_at_quantile(q))
    }

    pub fn min(&self) -> Duration {
        if self.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.inner().min())
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.inner().max())
    }

    pub fn mean(&self) -> Duration {
        Duration::from_secs_f64(self.inner().mean() / 1e6)
    }

    pub fn stdev(&self) -> Duration {
        Duration::from_secs_f64(self.inner().stdev() / 1e6)
    }

    /// Every distinct recorded value with its count, for percentile plots.
    pub fn percentile_curve(&self, ticks_per_half_distance: u32) -> Vec<(f64, Duration)> {
        self.inner()
            .iter_quantiles(ticks_per_half_distance)
            .map(|v| {
                (
                    v.quantile_iterated_to(),
                    Duration::from_micros(v.value_iterated_to()),
                )
            })
            .collect()
    }

    /// HDR V2 compressed encoding in base64: readable by every HdrHistogram implementation.
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&*self.inner(), &mut bytes)
            .expect("serializing into memory cannot fail");
        BASE64.encode(bytes)
    }

    pub fn from_base64(encoded: &str) -> Result<Self, HistogramDecodeError> {
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|e| HistogramDecodeError(format!("not base64: {e}")))?;
        let inner: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| HistogramDecodeError(format!("not an HDR histogram: {e:?}")))?;
        let mut histogram = dense(if inner.sigfig() >= 3 { 3 } else { 2 });
        // Re-home into our fixed bounds so later merges always work.
        for value in inner.iter_recorded() {
            histogram.saturating_record_n(
                value.value_iterated_to().clamp(1, MAX_TRACKABLE_MICROS),
                value.count_at_value(),
            );
        }
        let mut histogram = Self {
            repr: Repr::Dense(histogram),
        };
        // A timeline's seconds are read compact, as they were kept: a long soak's result reads
        // back in the memory it was written from.
        if histogram.sigfig() < 3 {
            histogram.compact();
        }
        Ok(histogram)
    }
}

fn dense(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_MICROS, sigfig)
        .expect("static histogram bounds are valid")
}

/// Equal when they hold the same counts in the same buckets, dense or compact.
impl PartialEq for LatencyHistogram {
    fn eq(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Dense(a), Repr::Dense(b)) => a == b,
            _ => {
                let buckets = |h: &LatencyHistogram| -> Vec<(u64, u64)> {
                    h.inner()
                        .iter_recorded()
                        .map(|v| (v.value_iterated_to(), v.count_at_value()))
                        .collect()
                };
                self.sigfig() == other.sigfig() && buckets(self) == buckets(other)
            }
        }
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .field("max", &self.max())
            .finish()
    }
}

/// A histogram in a result file could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid histogram: {0}")]
pub struct HistogramDecodeError(String);

impl Serialize for LatencyHistogram {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for LatencyHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let encoded = String::deserialize(deserializer)?;
        Self::from_base64(&encoded).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_precision() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=1000 {
            h.record(Duration::from_millis(ms));
        }
        let p99 = h.quantile(0.99).as_secs_f64();
        assert!((p99 - 0.990).abs() < 0.990 * 0.001, "p99 = {p99}");
        assert_eq!(h.count(), 1000);
    }

    #[test]
    fn base64_round_trip_is_lossless() {
        let mut h = LatencyHistogram::new();
        for us in [1u64, 17, 900, 12_345, 1_000_000, 59_000_000] {
            h.record(Duration::from_micros(us));
        }
        let back = LatencyHistogram::from_base64(&h.to_base64()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn extreme_values_are_clamped_not_lost() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(10_000));
        assert_eq!(h.count(), 2);
        assert!(h.max() >= Duration::from_secs(3599));
    }

    #[test]
    fn merge_across_precisions_keeps_counts() {
        let mut fine = LatencyHistogram::new();
        let mut coarse = LatencyHistogram::coarse();
        coarse.record(Duration::from_millis(5));
        coarse.record(Duration::from_millis(50));
        fine.merge(&coarse);
        assert_eq!(fine.count(), 2);
        assert!(fine.quantile(1.0) >= Duration::from_millis(49));
    }

    #[test]
    fn a_compact_histogram_answers_as_the_dense_one_and_takes_new_values() {
        let mut dense = LatencyHistogram::coarse();
        for us in (1..5000u64).map(|i| i * i % 250_000 + 100) {
            dense.record(Duration::from_micros(us));
        }
        let mut compact = dense.clone();
        compact.compact();
        assert!(matches!(compact.repr, Repr::Sparse { .. }));
        assert_eq!(compact, dense);
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(compact.quantile(q), dense.quantile(q), "q = {q}");
        }
        assert_eq!(
            (
                compact.count(),
                compact.min(),
                compact.max(),
                compact.mean()
            ),
            (dense.count(), dense.min(), dense.max(), dense.mean())
        );
        assert_eq!(compact.to_base64(), dense.to_base64());
        compact.record(Duration::from_millis(900));
        dense.record(Duration::from_millis(900));
        assert_eq!(compact, dense);
        let mut total = LatencyHistogram::new();
        total.merge(&compact);
        assert_eq!(total.count(), dense.count());
    }

    #[test]
    fn a_summarized_histogram_keeps_the_timelines_quantiles_exactly() {
        for n in [1u64, 2, 7, 100, 1000, 12_345] {
            let mut h = LatencyHistogram::coarse();
            for i in 0..n {
                h.record(Duration::from_micros(200 + (i * 7919) % 90_000));
            }
            let mut s = h.clone();
            s.summarize();
            assert_eq!(s.count(), h.count(), "n = {n}");
            for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
                assert_eq!(s.quantile(q), h.quantile(q), "n = {n}, q = {q}");
            }
            assert_eq!(s.max(), h.max(), "n = {n}");
            if let Repr::Sparse { buckets, .. } = &s.repr {
                assert!(buckets.len() <= 5, "{buckets:?}");
            }
        }
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let err = LatencyHistogram::from_base64("not a histogram").unwrap_err();
        assert!(err.to_string().contains("invalid histogram"));
    }
}
