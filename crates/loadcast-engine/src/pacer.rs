//! When work is due. One small abstraction, after vegeta's `Pacer`: given how many hits came
//! before, when is the next one due? The open model asks it for every arrival; a closed-model
//! user asks it for every iteration (pacing). The number of users over time is a [`UserSchedule`].

use std::time::Duration;

use loadcast_plan::{RateStage, UserStage};

/// Says when hit number `hits` (0-based) is due, as an offset from the start of its schedule.
pub trait Pacer: Send + Sync {
    /// `None` once the schedule has no hit left.
    fn due(&self, hits: u64) -> Option<Duration>;
}

/// Arrivals at a piecewise-linear rate (the open model): hit `n` is due when the integral of the
/// rate reaches `n`, so ramps are exact and nothing drifts with rounding.
#[derive(Clone, Debug)]
pub struct ArrivalRate {
    stages: Vec<RateStage>,
}

impl ArrivalRate {
    pub fn new(stages: &[RateStage]) -> Self {
        Self {
            stages: stages.to_vec(),
        }
    }

    /// Arrivals due in `[0, elapsed)`.
    pub fn hits_before(&self, elapsed: Duration) -> u64 {
        let mut remaining = elapsed.as_secs_f64();
        let mut total = 0.0;
        for s in &self.stages {
            let len = s.over.as_secs_f64();
            let t = remaining.min(len);
            total += s.from * t + (s.to - s.from) * t * t / (2.0 * len.max(f64::MIN_POSITIVE));
            remaining -= t;
            if remaining <= 0.0 {
                break;
            }
        }
        // An arrival due at exactly `elapsed` is not before it.
        let whole = total.ceil();
        if (total - total.round()).abs() < 1e-7 {
            total.round() as u64
        } else {
            whole as u64
        }
    }
}

impl Pacer for ArrivalRate {
    fn due(&self, hits: u64) -> Option<Duration> {
        // Arrival n is due at the time t where the cumulative count N(t) equals n: the first
        // arrival at t = 0, like k6 and vegeta.
        let mut needed = hits as f64;
        let mut offset = 0.0;
        for s in &self.stages {
            let len = s.over.as_secs_f64();
            let in_stage = (s.from + s.to) / 2.0 * len;
            if needed < in_stage {
                let slope = (s.to - s.from) / len;
                let t = if slope.abs() < 1e-12 {
                    needed / s.from
                } else {
                    // from·t + slope·t²/2 = needed
                    let disc = s.from * s.from + 2.0 * slope * needed;
                    (disc.max(0.0).sqrt() - s.from) / slope
                };
                return Some(Duration::from_secs_f64(offset + t.clamp(0.0, len)));
            }
            needed -= in_stage;
            offset += len;
        }
        None
    }
}

/// A hit every `interval` (closed-model pacing), for as long as asked.
#[derive(Clone, Copy, Debug)]
pub struct Constant {
    pub interval: Duration,
}

impl Pacer for Constant {
    fn due(&self, hits: u64) -> Option<Duration> {
        self.interval
            .checked_mul(u32::try_from(hits).unwrap_or(u32::MAX))
    }
}

/// Every hit due at once: a closed-model user loops as fast as the target answers.
#[derive(Clone, Copy, Debug)]
pub struct Unpaced;

impl Pacer for Unpaced {
    fn due(&self, _hits: u64) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

/// How many virtual users should exist over time (the closed model): linear between stages.
#[derive(Clone, Debug)]
pub struct UserSchedule {
    stages: Vec<UserStage>,
}

impl UserSchedule {
    pub fn new(stages: &[UserStage]) -> Self {
        Self {
            stages: stages.to_vec(),
        }
    }

    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.over).sum()
    }

    pub fn peak(&self) -> u32 {
        self.stages
            .iter()
            .map(|s| s.from.max(s.to))
            .max()
            .unwrap_or(0)
    }

    /// Users that should be active at `elapsed` (zero after the end).
    pub fn users_at(&self, elapsed: Duration) -> u32 {
        let mut start = Duration::ZERO;
        for s in &self.stages {
            if elapsed < start + s.over {
                let frac = (elapsed - start).as_secs_f64() / s.over.as_secs_f64();
                let users = f64::from(s.from) + (f64::from(s.to) - f64::from(s.from)) * frac;
                return users.floor() as u32;
            }
            start += s.over;
        }
        0
    }

    /// The first moment at or after `elapsed` at which user `index` (0-based) is active.
    pub fn next_active(&self, index: u32, elapsed: Duration) -> Option<Duration> {
        let need = f64::from(index) + 1.0;
        let mut start = Duration::ZERO;
        for s in &self.stages {
            let end = start + s.over;
            if end > elapsed {
                let (from, to) = (f64::from(s.from), f64::from(s.to));
                let at = if from >= need {
                    Some(start)
                } else if to > from && to >= need {
                    let frac = (need - from) / (to - from);
                    Some(start + s.over.mul_f64(frac))
                } else {
                    None
                };
                if let Some(at) = at {
                    let at = at.max(elapsed);
                    if at < end {
                        return Some(at);
                    }
                }
            }
            start = end;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(from: f64, to: f64, secs: u64) -> RateStage {
        RateStage {
            from,
            to,
            over: Duration::from_secs(secs),
        }
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let p = ArrivalRate::new(&[stage(100.0, 100.0, 10)]);
        assert_eq!(p.due(0), Some(Duration::ZERO));
        assert_eq!(p.due(1), Some(Duration::from_millis(10)));
        assert_eq!(p.due(999), Some(Duration::from_millis(9990)));
        assert_eq!(p.due(1000), None);
        assert_eq!(p.hits_before(Duration::from_secs(10)), 1000);
        assert_eq!(p.hits_before(Duration::from_millis(15)), 2);
    }

    #[test]
    fn ramp_integrates_exactly() {
        // 0 → 100/s over 10 s is 500 arrivals; half of them come in the last 29% of the ramp.
        let p = ArrivalRate::new(&[stage(0.0, 100.0, 10), stage(100.0, 100.0, 1)]);
        let mut n = 0;
        while p.due(n).is_some() {
            n += 1;
        }
        assert_eq!(n, 600);
        let t250 = p.due(250).unwrap().as_secs_f64();
        assert!((t250 - 50f64.sqrt()).abs() < 1e-6, "{t250}");
        for k in [1, 10, 100, 499, 550] {
            let t = p.due(k).unwrap();
            assert!(p.hits_before(t) <= k && p.hits_before(t + Duration::from_micros(10)) > k);
        }
    }

    #[test]
    fn dues_never_go_backwards() {
        let p = ArrivalRate::new(&[
            stage(5.0, 500.0, 3),
            stage(500.0, 20.0, 2),
            stage(0.0, 0.0, 1),
            stage(10.0, 10.0, 1),
        ]);
        let mut last = Duration::ZERO;
        let mut n = 0;
        while let Some(t) = p.due(n) {
            assert!(t >= last);
            last = t;
            n += 1;
        }
        assert!(last >= Duration::from_secs(6));
    }

    #[test]
    fn user_schedule_ramps() {
        let s = UserSchedule::new(&[
            UserStage {
                from: 0,
                to: 10,
                over: Duration::from_secs(10),
            },
            UserStage {
                from: 10,
                to: 10,
                over: Duration::from_secs(5),
            },
        ]);
        assert_eq!(s.users_at(Duration::ZERO), 0);
        assert_eq!(s.users_at(Duration::from_millis(5500)), 5);
        assert_eq!(s.users_at(Duration::from_secs(12)), 10);
        assert_eq!(s.users_at(Duration::from_secs(15)), 0);
        assert_eq!(
            s.next_active(4, Duration::ZERO),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            s.next_active(9, Duration::from_secs(11)),
            Some(Duration::from_secs(11))
        );
        assert_eq!(s.next_active(10, Duration::ZERO), None);
    }

    #[test]
    fn pacing() {
        let c = Constant {
            interval: Duration::from_millis(250),
        };
        assert_eq!(c.due(4), Some(Duration::from_secs(1)));
        assert_eq!(Unpaced.due(1_000_000), Some(Duration::ZERO));
    }
}
