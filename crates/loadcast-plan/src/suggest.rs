//! A starting plan suggested from what is known (`loadcast plan init`): the forecast's peak, the
//! SLOs and capacity of earlier runs. Written by the TOML serializer from typed sections, with
//! the reasons as comments above it, so that what it writes is always a plan this crate reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use loadcast_forecast::history::{SeriesKind, SeriesSpec};

use serde::Serialize;

/// The plan `plan init` writes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedPlan {
    pub name: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<SuggestedHistory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon: Option<SuggestedHorizon>,
    /// `p99 = "500ms"`, or a request's own: `"GET /x" = { p99 = "300ms" }`.
    pub slo: BTreeMap<String, toml::Value>,
    pub scenario: Vec<SuggestedScenario>,
    pub load: SuggestedLoad,
    pub capacity: SuggestedCapacity,
    /// Why each value is what it is: written as comments at the top.
    #[serde(skip)]
    pub reasons: Vec<String>,
    /// The table to grow to the horizon, suggested as a commented `[database]` section.
    #[serde(skip)]
    pub database_table: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedHistory {
    pub csv: String,
    pub traffic: Vec<String>,
    /// Series name → CSV column.
    pub data: BTreeMap<String, String>,
}

impl SuggestedHistory {
    /// The `[history]` section naming `csv` and its `series` for a plan written to `plan_path`
    /// (standard output when `None`). A plan's paths are relative to the plan, so a relative
    /// CSV is named absolutely when the plan goes to another directory.
    pub fn of(csv: &Path, series: &[SeriesSpec], plan_path: Option<&Path>) -> Self {
        let plan_elsewhere = plan_path
            .and_then(Path::parent)
            .is_some_and(|dir| !dir.as_os_str().is_empty());
        let csv = match std::fs::canonicalize(csv) {
            Ok(absolute) if plan_elsewhere && csv.is_relative() => absolute,
            _ => csv.to_path_buf(),
        };
        let of_kind = |kind| series.iter().filter(move |s| s.kind == kind);
        Self {
            csv: csv.display().to_string(),
            traffic: of_kind(SeriesKind::Traffic)
                .map(|s| s.source.clone())
                .collect(),
            data: of_kind(SeriesKind::Data)
                .map(|s| (s.name.clone(), s.source.clone()))
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedHorizon {
    /// `"6months"`.
    pub until: String,
    /// `"p95"`.
    pub traffic: String,
    pub data: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedScenario {
    pub name: String,
    pub step: Vec<SuggestedStep>,
}

/// A request (`get` with a status check) or a pause (`think`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<BTreeMap<String, u16>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedLoad {
    pub model: String,
    pub stages: Vec<SuggestedStage>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedStage {
    /// `"0..120/s"` or `"120/s"`.
    pub rate: String,
    pub over: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedCapacity {
    pub from: String,
    pub factor: f64,
    pub hold: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_scales: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

impl SuggestedPlan {
    /// A plan of one scenario (`GET /`, a pause) at `rate` per second, SLOs by default.
    pub fn new(name: &str, target: &str, rate: f64) -> Self {
        let rate = format!("{:.0}/s", rate.max(1.0).ceil());
        Self {
            name: name.into(),
            target: target.into(),
            history: None,
            horizon: None,
            slo: BTreeMap::from([
                ("p99".to_string(), toml::Value::String("500ms".into())),
                ("errors".to_string(), toml::Value::String("1%".into())),
            ]),
            scenario: vec![SuggestedScenario {
                name: "home".into(),
                step: vec![
                    SuggestedStep {
                        get: Some("/".into()),
                        check: Some(BTreeMap::from([("status".to_string(), 200)])),
                        think: None,
                    },
                    SuggestedStep {
                        get: None,
                        check: None,
                        think: Some("1s..3s".into()),
                    },
                ],
            }],
            load: SuggestedLoad {
                model: "open".into(),
                stages: vec![
                    SuggestedStage {
                        rate: format!("0..{rate}"),
                        over: "2m".into(),
                    },
                    SuggestedStage {
                        rate,
                        over: "10m".into(),
                    },
                ],
            },
            capacity: SuggestedCapacity {
                from: "20/s".into(),
                factor: 1.5,
                hold: "20s".into(),
                data_scales: Vec::new(),
                table: None,
            },
            reasons: Vec::new(),
            database_table: None,
        }
    }

    /// The plan `plan init` suggests from what is known, each suggestion with its reason: the
    /// load at the forecast's traffic peak (upper 95%) and a `[horizon]` at p95 when there is
    /// history, the SLOs the plan's last run was judged by, a search starting below the last
    /// study's capacity, and the first data series as the table to grow and measure.
    pub fn suggest(name: &str, target: &str, evidence: &Evidence<'_>) -> Self {
        let mut reasons = Vec::new();
        let peak = evidence.forecast.as_ref().and_then(|f| {
            reasons.push(format!("forecast: {}", f.projection.growth_summary()));
            let traffic = f
                .projection
                .series
                .iter()
                .find(|s| s.kind == loadcast_forecast::history::SeriesKind::Traffic)?;
            reasons.push(format!(
                "load: the forecast's peak of {} (upper 95%) on {}",
                traffic.name,
                loadcast_stats::time::format_date(traffic.peak_at_unix)
            ));
            Some(traffic.peak.hi95)
        });
        if peak.is_none() {
            reasons.push("load: no history, a starting rate to adjust".into());
        }
        let mut plan = Self::new(name, target, peak.unwrap_or(100.0));
        if let Some(f) = &evidence.forecast {
            plan.horizon = Some(SuggestedHorizon {
                until: humantime::format_duration(f.horizon).to_string(),
                traffic: "p95".into(),
                data: "p95".into(),
            });
            if let Some((table, _)) = f.history.data.first_key_value() {
                plan.capacity.data_scales = vec!["2x".into(), "horizon".into()];
                plan.capacity.table = Some(table.clone());
                plan.database_table = Some(table.clone());
            }
            plan.history = Some(f.history.clone());
        }
        match evidence.last_run {
            Some((id, thresholds)) if !thresholds.is_empty() => {
                reasons.push(format!(
                    "from run #{id} of this plan: the SLOs it was judged by"
                ));
                plan.slo = slo_table(thresholds);
            }
            _ => reasons
                .push("slo: no earlier run of this plan in the store, common defaults".into()),
        }
        if let Some((id, study)) = evidence.last_study {
            let today = study.today().map_or(0.0, |b| b.capacity());
            reasons.push(format!(
                "capacity study #{id} of this plan: {today:.0}/s held at today's data; the search starts at a quarter of it"
            ));
            plan.capacity.from = format!("{:.0}/s", (today / 4.0).max(1.0));
        }
        plan.reasons = reasons;
        plan
    }

    /// The plan as TOML: the reasons as comments, the sections from the serializer, and the
    /// test database to fill in as a commented section.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        let mut out =
            String::from("# Suggested by `loadcast plan init`; review every line before use.\n");
        for reason in &self.reasons {
            let _ = writeln!(out, "# {reason}");
        }
        out.push_str("# One scenario to start from: replace it, or record a browser session and run\n# `loadcast plan import-har session.har`; give every user their own data with [feeders.user].\n\n");
        out.push_str(&toml::to_string(self)?);
        if let Some(table) = &self.database_table {
            let _ = write!(
                out,
                "\n# The test database to grow to the horizon's volume (mark it first: loadcast grow --init-marker).\n\
                 # [database]\n# url = \"${{env:TEST_DATABASE_URL}}\"\n# [database.tables.{table}]\n# rows = \"horizon\"\n"
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `plan init` writes is a plan: it parses, and says what it was given.
    #[test]
    fn a_suggested_plan_is_a_valid_plan_with_its_values() {
        let dir = std::env::temp_dir().join(format!("loadcast-suggest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = SuggestedPlan::new("shop", "http://127.0.0.1:8080", 119.2);
        s.slo.insert(
            "GET /".into(),
            toml::Value::Table(toml::map::Map::from_iter([(
                "p99".to_string(),
                toml::Value::String("300ms".into()),
            )])),
        );
        s.capacity.data_scales = vec!["2x".into(), "horizon".into()];
        s.capacity.table = Some("orders".into());
        s.reasons.push("load at the forecast's peak".into());
        s.database_table = Some("orders".into());
        let text = s.to_toml().unwrap();
        let path = dir.join("plan.toml");
        std::fs::write(&path, &text).unwrap();
        let plan = crate::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(plan.name, "shop");
        assert_eq!(plan.thresholds.len(), 3, "{text}");
        assert!(text.contains("# load at the forecast's peak"), "{text}");
        assert!(text.contains("# [database.tables.orders]"), "{text}");
        let peak = match plan.load.unwrap() {
            crate::Load::Open(o) => o.stages[1].to,
            other => panic!("{other:?}"),
        };
        assert_eq!(peak, 120.0);
        assert_eq!(plan.capacity.unwrap().data_scales.len(), 2);
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// What a suggestion is made from; each part is optional.
#[derive(Debug, Default)]
pub struct Evidence<'a> {
    pub forecast: Option<Forecasted<'a>>,
    /// The plan's last run in the store (its id) and the thresholds it was judged by.
    pub last_run: Option<(i64, &'a [loadcast_stats::slo::ThresholdOutcome])>,
    /// The plan's last capacity study in the store, with its id.
    pub last_study: Option<(i64, &'a loadcast_capacity::CapacityStudy)>,
}

/// The user's history, as the plan will name it, and its forecast to `horizon`.
#[derive(Debug)]
pub struct Forecasted<'a> {
    pub history: SuggestedHistory,
    pub projection: &'a loadcast_forecast::Projection,
    pub horizon: std::time::Duration,
}

/// The `[slo]` table of the thresholds a run was judged by (scoped ones as sub-tables).
fn slo_table(
    thresholds: &[loadcast_stats::slo::ThresholdOutcome],
) -> BTreeMap<String, toml::Value> {
    let mut slo = BTreeMap::new();
    for t in thresholds {
        let limit = toml::Value::String(if t.threshold.metric.is_latency() {
            format!("{}ms", (t.threshold.limit * 1000.0).round())
        } else {
            format!("{}%", t.threshold.limit * 100.0)
        });
        let metric = t.threshold.metric.to_string();
        match &t.threshold.scope {
            Some(scope) => {
                if let toml::Value::Table(table) = slo
                    .entry(scope.clone())
                    .or_insert_with(|| toml::Value::Table(Default::default()))
                {
                    table.insert(metric, limit);
                }
            }
            None => {
                slo.insert(metric, limit);
            }
        }
    }
    slo
}
