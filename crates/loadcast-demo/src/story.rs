//! The demo's content, apart from the shop itself: the plan it writes for the shop, its bundled
//! history brought up to date and scaled to this machine, and the story it tells from its own
//! measurements. The `loadcast demo` command runs the stages; the words and numbers it shows
//! come from here.

use std::fmt::Write as _;
use std::path::Path;

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_plan::{ColumnSpec, Generator, RowsTarget, TableSpec};
use loadcast_stats::time::{format_date, parse_time};

/// Today's shop: customers and products (orders = the history's last value).
pub const CUSTOMERS: u64 = 2_000;
pub const PRODUCTS: u64 = 600;
/// Today's traffic peak as a share of what the shop serves today on this machine: a team that
/// "felt there was enough headroom".
pub const TODAY_SHARE: f64 = 0.50;

/// How hard and how finely the demo searches: a quick demo searches less.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    /// The plan's `data_scales` list, as TOML.
    pub scales: &'static str,
    pub hold: &'static str,
    pub warmup: &'static str,
    pub factor: f64,
    pub precision: f64,
    pub max_steps: usize,
}

impl Search {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                scales: "\"horizon\"",
                hold: "1500ms",
                warmup: "500ms",
                factor: 1.8,
                precision: 0.15,
                max_steps: 9,
            }
        } else {
            Self {
                scales: "\"2x\", \"horizon\"",
                hold: "3s",
                warmup: "1s",
                factor: 1.6,
                precision: 0.08,
                max_steps: 14,
            }
        }
    }
}

/// The demo's plan: the shop's three journeys, each user with their own row.
pub fn plan_text(url: &str, db: &Path, search: &Search) -> String {
    let Search {
        scales,
        hold,
        warmup,
        factor,
        ..
    } = search;
    format!(
        r#"# The plan `loadcast demo` wrote for its sample shop; try `loadcast plan check` on it.
name = "demo-shop"
target = "{url}"

[http]
timeout = "5s"

[slo]
p99 = "250ms"
errors = "1%"

[feeders.user]
csv = "users.csv"                 # one customer per virtual user

[[scenario]]
name = "browse"
weight = 45
[[scenario.step]]
name = "products"
get = "/products?page={{{{rand(1, 30)}}}}"
check = {{ status = 200 }}
[[scenario.step]]
name = "search"
get = "/search?q={{{{choice(quis, dolor, magnam, nihil, sed)}}}}"
check = {{ status = 200 }}

[[scenario]]
name = "order-history"            # the page that scans the orders table
weight = 45
[[scenario.step]]
name = "login"
post = "/login"
json = {{ email = "{{{{user.email}}}}", password = "{{{{user.password}}}}" }}
capture = {{ token = "json:/token" }}
check = {{ status = 200 }}
[[scenario.step]]
name = "my orders"
get = "/me/orders"
headers = {{ authorization = "Bearer {{{{token}}}}" }}
check = {{ status = 200 }}

[[scenario]]
name = "checkout"
weight = 10
[[scenario.step]]
name = "login"
post = "/login"
json = {{ email = "{{{{user.email}}}}", password = "{{{{user.password}}}}" }}
capture = {{ token = "json:/token" }}
check = {{ status = 200 }}
[[scenario.step]]
name = "checkout"
post = "/checkout"
json = {{ product = "{{{{rand(1, {PRODUCTS})}}}}" }}
headers = {{ authorization = "Bearer {{{{token}}}}" }}
check = {{ status = 201 }}

[load]
model = "open"
rate = "50/s"
duration = "30s"
max_in_flight = 1000

[history]
csv = "history.csv"
traffic = ["requests_per_s"]
data = {{ orders = "orders_rows" }}

[horizon]
until = "6 months"
traffic = "peak"
data = "peak"

[database]
url = "sqlite://{db}"

[database.tables.orders]
rows = "horizon"
columns.total = {{ lognormal = {{ median = 38.0, sigma = 0.6 }} }}
columns.customer_id = {{ ref = "customers.id", skew = "zipf(0.9)" }}

[capacity]
factor = {factor}
hold = "{hold}"
warmup = "{warmup}"
data_scales = [{scales}]
table = "orders"
"#,
        db = db.display()
    )
}

/// The bundled history with its traffic scaled so that today's peak is [`TODAY_SHARE`] of
/// `capacity_today` (unscaled when it is not known yet), and its dates shifted by whole weeks
/// (weekdays stay weekdays) so that it ends in the week before `now`: the story is about the
/// months ahead of now. Returns the CSV and the scale factor.
pub fn history(capacity_today: Option<f64>, now: i64) -> (String, f64) {
    let rows: Vec<(&str, f64, &str)> = crate::HISTORY_CSV
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cells = l.split(',');
            Some((cells.next()?, cells.next()?.parse().ok()?, cells.next()?))
        })
        .collect();
    let today_peak = rows.iter().rev().take(7).map(|r| r.1).fold(0.0, f64::max);
    let factor = capacity_today.map_or(1.0, |c| TODAY_SHARE * c / today_peak.max(1e-9));
    let day = 86_400;
    let last = rows.last().and_then(|r| parse_time(r.0)).unwrap_or(0);
    let shift = (now - day - last).div_euclid(7 * day) * 7 * day;
    let mut csv = String::from("date,requests_per_s,orders_rows\n");
    for (date, traffic, orders) in &rows {
        let date = parse_time(date).map_or_else(|| date.to_string(), |t| format_date(t + shift));
        let _ = writeln!(csv, "{date},{:.2},{orders}", traffic * factor);
    }
    (csv, factor)
}

/// Today's shop for datagen: customers, products and the `orders` the history ends with.
pub fn seed_tables(orders: u64) -> Vec<TableSpec> {
    let column = |name: &str, generator| {
        (
            name.to_string(),
            ColumnSpec {
                generator,
                null: 0.0,
            },
        )
    };
    let log_normal = |median, sigma| Generator::LogNormal { median, sigma };
    vec![
        TableSpec {
            name: "customers".into(),
            rows: RowsTarget::Absolute(CUSTOMERS),
            columns: vec![column("password", Generator::Fake("word".into()))],
        },
        TableSpec {
            name: "products".into(),
            rows: RowsTarget::Absolute(PRODUCTS),
            columns: vec![
                column("title", Generator::Words { min: 2, max: 5 }),
                column("price", log_normal(30.0, 0.7)),
            ],
        },
        TableSpec {
            name: "orders".into(),
            rows: RowsTarget::Absolute(orders),
            columns: vec![
                column("total", log_normal(38.0, 0.6)),
                column(
                    "customer_id",
                    Generator::Ref {
                        table: "customers".into(),
                        column: "id".into(),
                        zipf: Some(0.9),
                    },
                ),
            ],
        },
    ]
}

/// The orders the bundled history ends with: today's table.
pub fn orders_today() -> u64 {
    crate::HISTORY_CSV
        .lines()
        .last()
        .and_then(|l| l.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(40_000)
}

/// `623689` → `623,689`: the story's row counts are read, not parsed.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the demo measured and forecast: the figures its story is told from.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Journeys per second the shop held its SLO at, today's data and at the horizon's.
    pub capacity_today: f64,
    pub capacity_at_horizon: f64,
    pub orders_today: f64,
    pub orders_at_horizon: f64,
    pub traffic_peak_today: f64,
    /// The forecast's seasonal peak and when it is.
    pub traffic_peak: f64,
    pub traffic_peak_at: i64,
    pub horizon: i64,
    /// The traffic-only view: headroom at the peak, and when it runs out (if it does).
    pub traffic_only_headroom_at_peak: f64,
    pub traffic_only_runs_out: Option<i64>,
    /// The data-aware view: when it runs out, with the 10–90% range of simulated dates.
    pub data_aware_runs_out: Option<i64>,
    pub data_aware_runs_out_p10: Option<i64>,
    pub data_aware_runs_out_p90: Option<i64>,
}

impl Facts {
    /// The facts a study with a runway and its projection establish; `None` without a runway
    /// or without the two series.
    pub fn of(
        study: &CapacityStudy,
        projection: &Projection,
        orders_today: u64,
        traffic_series: &str,
        orders_series: &str,
    ) -> Option<Self> {
        let runway = study.runway.as_ref()?;
        let traffic = projection.series(traffic_series)?;
        let orders = projection.series(orders_series)?;
        Some(Self {
            capacity_today: study.today().map_or(0.0, |b| b.capacity()),
            capacity_at_horizon: study.capacity_at_horizon().unwrap_or(0.0),
            orders_today: orders_today as f64,
            orders_at_horizon: orders.at_horizon.point,
            traffic_peak_today: traffic.current_peak,
            traffic_peak: traffic.peak.point,
            traffic_peak_at: traffic.peak_at_unix,
            horizon: projection.horizon_end_unix,
            traffic_only_headroom_at_peak: runway.traffic_only.headroom_at_peak,
            traffic_only_runs_out: runway.traffic_only.runs_out,
            data_aware_runs_out: runway.data_aware.runs_out,
            data_aware_runs_out_p10: runway.data_aware.runs_out_p10,
            data_aware_runs_out_p90: runway.data_aware.runs_out_p90,
        })
    }

    /// The demo's JSON summary (`demo.json`): these facts and each scale's capacity, the same
    /// figures the story and the report show.
    pub fn summary(&self, study: &CapacityStudy) -> serde_json::Value {
        serde_json::json!({
            "capacity_today": self.capacity_today,
            "capacity_at_horizon": self.capacity_at_horizon,
            "capacities": study.scales.iter().map(|s| serde_json::json!({
                "scale": s.scale, "volume": s.volume, "capacity": s.breaking_point.capacity(),
                "generator_limited": s.breaking_point.generator_limited,
            })).collect::<Vec<_>>(),
            "traffic_peak": self.traffic_peak,
            "traffic_peak_at": self.traffic_peak_at,
            "orders_at_horizon": self.orders_at_horizon,
            "horizon": self.horizon,
            "traffic_only_runs_out": self.traffic_only_runs_out,
            "data_aware_runs_out": self.data_aware_runs_out,
            "data_aware_runs_out_p10": self.data_aware_runs_out_p10,
            "data_aware_runs_out_p90": self.data_aware_runs_out_p90,
            "days_earlier": study.runway.as_ref().and_then(|r| r.days_earlier),
        })
    }
}

/// The story, one paragraph each: today, the traffic-only plan's comfort, the data-aware
/// runway, and why they differ.
pub fn story(f: &Facts) -> Vec<String> {
    let (today, at_horizon) = (f.capacity_today, f.capacity_at_horizon);
    let mut story = vec![format!(
        "Today the shop holds its SLO up to {today:.0} journeys per second with today's {} orders; today's peak traffic is {:.0}/s.",
        thousands(f.orders_today),
        f.traffic_peak_today
    )];
    story.push(format!(
        "Traffic-only plan (today's data): the seasonal peak of {:.0}/s on {} leaves {:.1}× headroom — {}.",
        f.traffic_peak,
        format_date(f.traffic_peak_at),
        f.traffic_only_headroom_at_peak,
        match f.traffic_only_runs_out {
            None => "plenty, it says: the headroom never runs out within the six months".to_string(),
            Some(t) => format!("it runs out on {}", format_date(t)),
        }
    ));
    story.push(format!(
        "Data-aware plan: the orders table grows from {} to {} rows by {}, and capacity falls with it to about {at_horizon:.0}/s. {}",
        thousands(f.orders_today),
        thousands(f.orders_at_horizon),
        format_date(f.horizon),
        match f.data_aware_runs_out {
            Some(t) => {
                let days_before_peak = ((f.traffic_peak_at - t) as f64 / 86_400.0).round();
                format!(
                    "The headroom runs out on {} (80%: {} – {}), {}",
                    format_date(t),
                    f.data_aware_runs_out_p10.map_or("now".into(), format_date),
                    f.data_aware_runs_out_p90.map_or("beyond the horizon".into(), format_date),
                    if days_before_peak > 0.0 {
                        format!("{days_before_peak:.0} days before the seasonal peak: a test on today's data could not have seen it.")
                    } else {
                        "after the seasonal peak.".to_string()
                    }
                )
            }
            None => "Even so, the headroom lasts through the horizon on this machine.".into(),
        }
    ));
    let data_growth = f.orders_at_horizon / f.orders_today.max(1.0);
    story.push(format!(
        "Why: the order-history page filters orders by customer without an index, so each visit reads the whole table; \
         {data_growth:.1}× the orders is {data_growth:.1}× the work per visit, and the capacity fell from {today:.0}/s to {at_horizon:.0}/s. \
         The traffic-only plan measured today's table."
    ));
    story
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(623_689.2), "623,689");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn the_history_ends_in_the_week_before_now_on_its_own_weekdays() {
        let now = parse_time("2026-12-01").unwrap();
        let (csv, factor) = history(None, now);
        assert_eq!(factor, 1.0);
        let last = csv.lines().last().unwrap().split(',').next().unwrap();
        let last = parse_time(last).unwrap();
        assert!(
            now - 8 * 86_400 <= last && last < now,
            "{}",
            format_date(last)
        );
        let bundled = crate::HISTORY_CSV
            .lines()
            .last()
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        assert_eq!((last - parse_time(bundled).unwrap()) % (7 * 86_400), 0);
        let (scaled, factor) = history(Some(1000.0), now);
        assert!(factor > 0.0 && scaled.lines().count() == csv.lines().count());
    }
}
