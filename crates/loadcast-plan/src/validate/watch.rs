//! `[watch]`: where `loadcast watch` reads production from, and how often.

use std::time::Duration;

use super::*;

/// Defaults: four weeks of hourly history (two weekly cycles and a daily one), a cycle an hour.
const DEFAULT_SINCE: Duration = Duration::from_secs(28 * 86_400);
const DEFAULT_STEP: Duration = Duration::from_secs(3_600);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(3_600);
const DEFAULT_LATENCY_TOLERANCE: f64 = 1.5;

impl Validator<'_> {
    pub(super) fn watch(&mut self, raw: &Spanned<RawWatch>) -> Option<WatchSpec> {
        let w = raw.get_ref();
        let mut ok = true;
        let prometheus = self.env(&w.prometheus, "watch.prometheus");
        if let Some(url) = &prometheus {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.error(
                    &w.prometheus,
                    "watch.prometheus",
                    format!("{url:?} is not an HTTP URL"),
                    Some("the Prometheus server's base URL, e.g. \"http://prometheus:9090\""),
                );
                ok = false;
            }
        }
        let mut query = |value: &Option<Spanned<String>>, key: &str| -> Option<String> {
            let v = value.as_ref()?;
            if v.get_ref().trim().is_empty() {
                self.error(v, key, "an empty query", Some("a PromQL expression"));
                ok = false;
                return None;
            }
            Some(v.get_ref().clone())
        };
        let traffic = query(&Some(w.traffic.clone()), "watch.traffic");
        let data = query(&w.data, "watch.data");
        let latency_p99 = query(&w.latency_p99, "watch.latency_p99");
        let mut duration = |v: &Option<Spanned<String>>, key: &str, default: Duration| match v {
            None => Some(default),
            Some(v) => match self.unit(v, key, units::parse_duration) {
                Some(d) if d.is_zero() => {
                    self.error(v, key, "a zero duration", Some("a duration such as \"1h\""));
                    None
                }
                parsed => parsed,
            },
        };
        let since = duration(&w.since, "watch.since", DEFAULT_SINCE);
        let step = duration(&w.step, "watch.step", DEFAULT_STEP);
        let interval = duration(&w.interval, "watch.interval", DEFAULT_INTERVAL);
        if let (Some(since), Some(step), Some(raw_since)) = (since, step, &w.since) {
            if since.as_secs() < 3 * step.as_secs() {
                self.error(
                    raw_since,
                    "watch.since",
                    format!(
                        "{} of history at a {} step is too short to forecast",
                        humantime::format_duration(since),
                        humantime::format_duration(step)
                    ),
                    Some("weeks of history: two cycles of the longest season at least"),
                );
                ok = false;
            }
        }
        let latency_tolerance = match &w.latency_tolerance {
            None => Some(DEFAULT_LATENCY_TOLERANCE),
            Some(t) if *t.get_ref() >= 1.0 => Some(*t.get_ref()),
            Some(t) => {
                self.error(
                    t,
                    "watch.latency_tolerance",
                    format!(
                        "{} would call the study stale when production is faster",
                        t.get_ref()
                    ),
                    Some("a ratio of at least 1, e.g. 1.5"),
                );
                None
            }
        };
        if !ok {
            return None;
        }
        Some(WatchSpec {
            prometheus: prometheus?.trim_end_matches('/').to_string(),
            traffic: traffic?,
            data,
            latency_p99,
            latency_tolerance: latency_tolerance?,
            since: since?,
            step: step?,
            interval: interval?,
        })
    }
}
