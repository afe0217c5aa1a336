//! `[load]` (open and closed models, one stage loop for both) and `[slo]`.

use super::*;

impl Validator<'_> {
    pub(super) fn load(&mut self, raw: &Spanned<RawLoad>, prefix: &str) -> Option<Load> {
        let load = raw.get_ref();
        match load.model.get_ref().as_str() {
            "open" => self.open_load(raw, prefix),
            "closed" => self.closed_load(raw, prefix),
            other => {
                self.error(
                    &load.model,
                    format!("{prefix}.model"),
                    format!("{other:?} is not a load model"),
                    Some("\"open\" (arrival rate) or \"closed\" (looping virtual users)"),
                );
                None
            }
        }
    }

    /// The stage list, from `stages = [...]` or the `duration` shorthand with one stage.
    pub(super) fn stage_list<T>(
        &mut self,
        raw: &Spanned<RawLoad>,
        shorthand: Option<&Spanned<T>>,
        shorthand_key: &str,
        prefix: &str,
    ) -> Option<Vec<(Spanned<String>, Option<usize>)>> {
        let load = raw.get_ref();
        match (&load.stages, shorthand, &load.duration) {
            (Some(stages), None, None) if !stages.is_empty() => Some(
                stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.get_ref().over.clone(), Some(i)))
                    .collect(),
            ),
            (None, Some(_), Some(duration)) => Some(vec![(duration.clone(), None)]),
            _ => {
                self.error(
                    raw,
                    prefix,
                    format!("the load needs either `stages` or `{shorthand_key}` with `duration`"),
                    Some(&format!(
                        "stages = [{{ {shorthand_key} = …, over = \"1m\" }}] or {shorthand_key} = … with duration = \"1m\""
                    )),
                );
                None
            }
        }
    }

    /// `latency_limit`: a duration above zero; `Some(None)` without one, `None` when invalid.
    fn latency_limit(&mut self, load: &RawLoad, prefix: &str) -> Option<Option<Duration>> {
        let Some(raw) = &load.latency_limit else {
            return Some(None);
        };
        let key = format!("{prefix}.latency_limit");
        let limit = self.unit(raw, &key, units::parse_duration)?;
        if limit.is_zero() {
            self.error(
                raw,
                key,
                "a latency limit of zero counts every iteration as late",
                Some("a duration such as \"50ms\""),
            );
            return None;
        }
        Some(Some(limit))
    }

    pub(super) fn open_load(&mut self, raw: &Spanned<RawLoad>, prefix: &str) -> Option<Load> {
        let load = raw.get_ref();
        if let Some(users) = &load.users {
            self.error(
                users,
                format!("{prefix}.users"),
                "`users` belongs to the closed model",
                Some("`rate` in an open-model load"),
            );
        }
        if let Some(pacing) = &load.pacing {
            self.error(
                pacing,
                format!("{prefix}.pacing"),
                "`pacing` belongs to the closed model",
                Some("the arrival rate sets the pace in an open model"),
            );
        }
        let list = self.stage_list(raw, load.rate.as_ref(), "rate", prefix)?;
        let mut stages = Vec::new();
        let mut ok = true;
        for (over, index) in list {
            let (rate, key) = match index {
                Some(i) => {
                    let stage = load.stages.as_ref()?[i].get_ref();
                    let Some(rate) = stage.rate.as_ref() else {
                        let s = &load.stages.as_ref()?[i];
                        self.error(
                            s,
                            format!("{prefix}.stages[{i}]"),
                            "an open-model stage needs `rate`",
                            Some("{ rate = \"100/s\", over = \"1m\" }"),
                        );
                        ok = false;
                        continue;
                    };
                    (rate.clone(), format!("{prefix}.stages[{i}]"))
                }
                None => (load.rate.clone()?, prefix.to_string()),
            };
            let range = self.unit(&rate, &format!("{key}.rate"), units::parse_rate_range);
            let over_key = if index.is_some() {
                format!("{key}.over")
            } else {
                format!("{prefix}.duration")
            };
            let over = self.unit(&over, &over_key, units::parse_duration);
            match (range, over) {
                (Some((from, to)), Some(over)) => stages.push(RateStage { from, to, over }),
                _ => ok = false,
            }
        }
        let max_in_flight = match &load.max_in_flight {
            None => DEFAULT_MAX_IN_FLIGHT,
            Some(m) if (1..=1_000_000).contains(m.get_ref()) => *m.get_ref() as u32,
            Some(m) => {
                self.error(
                    m,
                    format!("{prefix}.max_in_flight"),
                    format!("{} is out of range", m.get_ref()),
                    Some("a whole number from 1 to 1000000"),
                );
                return None;
            }
        };
        let late_after = match &load.late_after {
            None => DEFAULT_LATE_AFTER,
            Some(l) => self.unit(l, &format!("{prefix}.late_after"), units::parse_duration)?,
        };
        let preallocate = match &load.preallocate {
            None => 0,
            Some(p) if (0..=i64::from(max_in_flight)).contains(p.get_ref()) => *p.get_ref() as u32,
            Some(p) => {
                self.error(
                    p,
                    format!("{prefix}.preallocate"),
                    format!("{} is out of range", p.get_ref()),
                    Some(&format!(
                        "a whole number from 0 to max_in_flight ({max_in_flight})"
                    )),
                );
                return None;
            }
        };
        let latency_limit = self.latency_limit(load, prefix)?;
        let open = OpenLoad {
            stages,
            max_in_flight,
            late_after,
            preallocate,
            latency_limit,
        };
        if ok && open.expected_arrivals() < 1.0 {
            self.error(
                raw,
                prefix,
                "the schedule asks for no arrival at all",
                Some("a rate above zero for some time"),
            );
            return None;
        }
        (ok && load.users.is_none() && load.pacing.is_none()).then_some(Load::Open(open))
    }

    pub(super) fn closed_load(&mut self, raw: &Spanned<RawLoad>, prefix: &str) -> Option<Load> {
        let load = raw.get_ref();
        if let Some(rate) = &load.rate {
            self.error(
                rate,
                format!("{prefix}.rate"),
                "`rate` belongs to the open model",
                Some("`users` in a closed-model load"),
            );
        }
        if let Some(m) = &load.max_in_flight {
            self.error(
                m,
                format!("{prefix}.max_in_flight"),
                "`max_in_flight` belongs to the open model",
                Some("the number of users bounds a closed model"),
            );
        }
        let list = self.stage_list(raw, load.users.as_ref(), "users", prefix)?;
        let mut stages = Vec::new();
        let mut ok = true;
        for (over, index) in list {
            let (users, key) = match index {
                Some(i) => {
                    let s = &load.stages.as_ref()?[i];
                    let Some(users) = s.get_ref().users.as_ref() else {
                        self.error(
                            s,
                            format!("{prefix}.stages[{i}]"),
                            "a closed-model stage needs `users`",
                            Some("{ users = 50, over = \"1m\" }"),
                        );
                        ok = false;
                        continue;
                    };
                    (users.clone(), format!("{prefix}.stages[{i}]"))
                }
                None => (load.users.clone()?, prefix.to_string()),
            };
            let users = self.users(&users, &format!("{key}.users"));
            let over_key = if index.is_some() {
                format!("{key}.over")
            } else {
                format!("{prefix}.duration")
            };
            let over = self.unit(&over, &over_key, units::parse_duration);
            match (users, over) {
                (Some((from, to)), Some(over)) => stages.push(UserStage { from, to, over }),
                _ => ok = false,
            }
        }
        let pacing = match &load.pacing {
            None => None,
            Some(p) => Some(self.unit(p, &format!("{prefix}.pacing"), units::parse_duration)?),
        };
        let latency_limit = self.latency_limit(load, prefix)?;
        let closed = ClosedLoad {
            stages,
            pacing,
            latency_limit,
        };
        if ok && closed.peak_users() == 0 {
            self.error(
                raw,
                prefix,
                "the schedule never has a user",
                Some("at least one virtual user"),
            );
            return None;
        }
        (ok && load.rate.is_none() && load.max_in_flight.is_none()).then_some(Load::Closed(closed))
    }

    pub(super) fn users(&mut self, value: &Spanned<toml::Value>, key: &str) -> Option<(u32, u32)> {
        const EXPECTED: &str = "a number of users such as 50 or a ramp such as \"0..50\"";
        match value.get_ref() {
            toml::Value::Integer(n) if (0..=10_000_000).contains(n) => Some((*n as u32, *n as u32)),
            toml::Value::String(s) => match units::parse_user_range(s) {
                Ok(range) => Some(range),
                Err(expected) => {
                    self.error(value, key, format!("{s:?} is not valid"), Some(expected));
                    None
                }
            },
            other => {
                self.error(value, key, format!("{other} is not valid"), Some(EXPECTED));
                None
            }
        }
    }

    pub(super) fn thresholds(
        &mut self,
        raw: &std::collections::BTreeMap<String, Spanned<toml::Value>>,
        request_names: Option<&[String]>,
    ) -> Vec<Threshold> {
        let mut thresholds = Vec::new();
        for (key, value) in raw {
            match value.get_ref() {
                toml::Value::Table(scoped) => {
                    // Names are only known when every scenario was valid: a broken step must not
                    // also be reported as a threshold naming a request that does not exist.
                    if let Some(names) = request_names.filter(|names| !names.contains(key)) {
                        self.error(
                            value,
                            format!("slo.{key}"),
                            format!("no request is named {key:?}"),
                            Some(&format!("a step name: {}", names.join(", "))),
                        );
                        continue;
                    }
                    for (metric, limit) in scoped {
                        if let Some(t) = self.threshold(Some(key), metric, limit, value) {
                            thresholds.push(t);
                        }
                    }
                }
                limit => {
                    if let Some(t) = self.threshold(None, key, limit, value) {
                        thresholds.push(t);
                    }
                }
            }
        }
        thresholds
    }

    pub(super) fn threshold(
        &mut self,
        scope: Option<&String>,
        metric_name: &str,
        limit: &toml::Value,
        at: &Spanned<toml::Value>,
    ) -> Option<Threshold> {
        let key = match scope {
            Some(s) => format!("slo.{s}.{metric_name}"),
            None => format!("slo.{metric_name}"),
        };
        let Some(metric) = Metric::parse(metric_name) else {
            self.error(
                at,
                &key,
                format!("{metric_name:?} is not an SLO metric"),
                Some("p50, p90, p95, p99, p99.9, mean, max or errors"),
            );
            return None;
        };
        let parsed = match (metric.is_latency(), limit) {
            (true, toml::Value::String(s)) => units::parse_duration(s).map(|d| d.as_secs_f64()),
            (false, toml::Value::String(s)) => units::parse_fraction(s),
            (false, toml::Value::Float(f)) => units::parse_fraction(&f.to_string()),
            (true, _) => Err("a duration such as \"300ms\""),
            (false, _) => Err("a percentage such as \"0.5%\""),
        };
        match parsed {
            Ok(limit) => Some(Threshold {
                scope: scope.cloned(),
                metric,
                limit,
            }),
            Err(expected) => {
                self.error(at, &key, format!("{limit} is not valid"), Some(expected));
                None
            }
        }
    }
}
