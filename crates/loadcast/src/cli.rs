//! The command line, as clap types: parsed here, acted on in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use loadcast_forecast::history::{SeriesKind, SeriesSpec};

/// Forecast traffic and data volume, grow a test database to tomorrow's size, and load-test
/// it until it breaks.
///
/// Exit codes: 0 passed; 1 the run could not be done (unreachable target, I/O);
/// 2 usage or plan error; 3 a threshold failed; 130 interrupted by Ctrl-C or SIGTERM (a partial
/// result is saved).
#[derive(Debug, Parser)]
#[command(
    name = "loadcast",
    version,
    propagate_version = true,
    max_term_width = 100,
    // `--help` on every command; no `help` command, so every page `loadcast man` lists exists.
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Where runs, capacity studies and forecasts are kept.
#[derive(Clone, Debug, Args)]
pub struct StoreArgs {
    /// The run store (SQLite) [default: $XDG_DATA_HOME/loadcast/runs.db].
    #[arg(long, global = true, value_name = "FILE", env = "LOADCAST_STORE")]
    pub store: Option<PathBuf>,
    /// Do not record this command in the run store.
    #[arg(long, global = true)]
    pub no_store: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole story in a few minutes: a sample shop on SQLite, its history forecast, its data
    /// grown, its breaking points found, and the traffic-only runway beside the data-aware one.
    Demo(DemoArgs),
    /// Run a plan's load against its target; thresholds decide the exit code.
    Run(RunArgs),
    /// Work with plan files.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Forecast traffic and data volume from history: the value at the horizon, the seasonal
    /// peak within it and its date, with 80% and 95% intervals; `--backtest` measures accuracy.
    Forecast(ForecastArgs),
    /// Grow a test database to the projected data volume (the plan's [database], or --db);
    /// refuses a database that is not marked as a test target.
    Grow(GrowArgs),
    /// Find the breaking point (at each data scale), fit capacity against data volume and the
    /// USL, and compute headroom and runway against a projection, beside the traffic-only view.
    Capacity(CapacityArgs),
    /// Export a plan to run elsewhere: `export kubernetes` writes a ConfigMap, an Indexed Job of
    /// shards and a merge Job.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Merge the results of a sharded run (`run --shard I/N`): one complete attempt per shard,
    /// histograms added, seconds aligned by the wall clock, the plan's thresholds evaluated on
    /// the whole; exits like `run`.
    Merge(MergeArgs),
    /// The runway, live: production's traffic and data from Prometheus (the plan's [watch]),
    /// re-forecast each cycle against the latest capacity study; serves the figures for
    /// Prometheus to scrape, writes alerting rules (--rules), or runs one cycle (--once).
    Watch(WatchArgs),
    /// Render results, capacity studies and projections (files or run ids): terminal summary,
    /// self-contained HTML with charts, JUnit XML, JSON summary, CSV timeline.
    Report(ReportArgs),
    /// List the run store, or show one record.
    Runs(RunsArgs),
    /// Compare two runs (files or run ids): per-request changes and whether the whole-run
    /// change is beyond run-to-run noise; or two capacity studies: each data scale's capacity,
    /// judged by the searches' brackets, and the runway. Can gate CI.
    Compare(CompareArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) to standard output: loadcast(1), or a command's own
    /// (`loadcast man run` is loadcast-run(1)).
    Man {
        /// The command whose page to print (`run`, `plan`, `capacity`, …).
        command: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plan file (TOML), or its object storage URL (`s3://bucket/plans/shop.toml`: the
    /// feeders and bodies it names are read from beside it).
    pub plan: PathBuf,
    /// Where to write the result: a file, or an object storage prefix (`s3://bucket/run-id/`,
    /// `gs://…`, `az://…`, `file:///…`) that shards share [default: the plan file's name with
    /// .result.json].
    #[arg(short, long, value_name = "FILE|URL")]
    pub out: Option<String>,
    /// Worker threads [default: the CPUs this process may use].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// How to show progress.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Do not check that the target accepts connections before the run.
    #[arg(long)]
    pub skip_preflight: bool,
    /// Run shard INDEX of COUNT of the plan's load (`2/4`: the third of four), for
    /// `loadcast merge` to add up: arrivals, users and in-order feeder rows are split so that
    /// the shards together run the plan once.
    #[arg(long, value_name = "INDEX/COUNT", conflicts_with = "shards")]
    pub shard: Option<String>,
    /// Run one of COUNT shards, the index from `JOB_COMPLETION_INDEX` (a Kubernetes Indexed
    /// Job's pods need no wrapper).
    #[arg(long, value_name = "COUNT")]
    pub shards: Option<u32>,
    /// When the schedule starts (RFC 3339, or Unix seconds): shards given the same instant start
    /// together [default: now].
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    #[command(flatten)]
    pub files: OutputFiles,
}

/// The files a run's result can be written as, by `run` directly or by `report` later.
#[derive(Debug, Args)]
pub struct OutputFiles {
    /// Write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write JUnit XML (each threshold a test case).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON summary.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Write the per-second timeline as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// History as CSV: a timestamp column and one column per series.
    #[arg(required_unless_present_any = ["prometheus", "plan"])]
    pub history: Option<PathBuf>,
    /// Read history from Prometheus' HTTP API instead (`http://127.0.0.1:9090`).
    #[arg(long, value_name = "URL", conflicts_with = "history")]
    pub prometheus: Option<String>,
    /// Take the history, its series and the horizon from a plan's [history] and [horizon].
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["history", "prometheus"])]
    pub plan: Option<PathBuf>,
    /// A traffic series: a CSV column (`requests`, or `rps=requests` to rename it), or with
    /// --prometheus `name=PROMQL`. Repeatable.
    #[arg(long, value_name = "SERIES", value_parser = traffic_series)]
    pub traffic: Vec<SeriesSpec>,
    /// A data-volume series (rows or bytes), as for --traffic; `:SHAPE` pins its growth
    /// (`orders=orders_rows:linear`; linear, exponential, changepoint, plateau, seasonal), which
    /// the backtest refuses when it forecasts much worse. Repeatable.
    #[arg(long, value_name = "SERIES", value_parser = data_series)]
    pub data: Vec<SeriesSpec>,
    /// The CSV's timestamp column [default: the first].
    #[arg(long, value_name = "COLUMN")]
    pub timestamp: Option<String>,
    /// How far ahead to forecast (`6months`, `90d`, `2w`) [default: the plan's [horizon]
    /// until, else 6 months].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub horizon: Option<std::time::Duration>,
    /// Seasons to model: `auto` (what the history supports) or a list such as `weekly,yearly`
    /// (an error when the history is too short for one).
    #[arg(long, default_value = "auto")]
    pub seasonality: loadcast_forecast::Seasonality,
    /// One-off events and holidays to keep out of the fit: a CSV of `start[,end][,name]`
    /// lines; their samples are replaced by the trend of the same slot in the cycles around them.
    /// A traffic series' gross one-off spikes (10 robust deviations off their slot) and a data
    /// series' one-off jumps (a bulk load or delete) are kept out without being listed, each
    /// named in a note.
    #[arg(long, value_name = "CSV")]
    pub events: Option<PathBuf>,
    /// Aggregate the history to a coarser step first: `1d`, `1w`, `1month`, with `:sum`,
    /// `:mean`, `:max` or `:last` [default: mean for traffic, last for data].
    #[arg(long, value_name = "STEP[:HOW]")]
    pub resample: Option<loadcast_forecast::resample::Resample>,
    /// The time zone whose wall clock the traffic's day follows (`Europe/Berlin`): the history
    /// is modelled on that clock, so a daily cycle does not move an hour when the clocks
    /// change; timestamps without an offset are read as that clock's. Times written out stay
    /// instants (UTC); `--resample 1d` counts that clock's days. A daily or coarser history
    /// is read as its dates say [default: the plan's [history] tz, else UTC].
    #[arg(long, value_name = "ZONE", value_parser = wall_clock)]
    pub tz: Option<loadcast_forecast::clock::WallClock>,
    /// Where to write the projection (JSON) [default: projection.json].
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Measure accuracy instead: rolling holdouts of --holdout, each model chosen on its own
    /// training data; prints MASE, sMAPE, MAPE and interval coverage.
    #[arg(long)]
    pub backtest: bool,
    /// Print the backtest as JSON (for scripts and benchmarks).
    #[arg(long, requires = "backtest")]
    pub json: bool,
    /// Length of each backtest holdout.
    #[arg(long, default_value = "14d", value_parser = humantime::parse_duration)]
    pub holdout: std::time::Duration,
    /// Backtest: samples of training before the first holdout [default: four seasonal cycles].
    #[arg(long, value_name = "SAMPLES")]
    pub min_train: Option<usize>,
    /// Prometheus: how much history to read, ending now.
    #[arg(long, default_value = "365d", value_parser = humantime::parse_duration)]
    pub since: std::time::Duration,
    /// Prometheus: the resolution of the history.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub step: std::time::Duration,
    /// Prometheus: the end of the history (RFC 3339 or Unix seconds) [default: now].
    #[arg(long, value_name = "TIME", value_parser = time)]
    pub until: Option<i64>,
}

#[derive(Debug, Args)]
pub struct GrowArgs {
    /// A plan whose [database] section says where and how much.
    pub plan: Option<PathBuf>,
    /// The database URL (overrides the plan's): postgres://…, mysql://…, sqlite://file.db.
    /// Better given through an environment variable than on a shared command line.
    #[arg(
        long,
        value_name = "URL",
        env = "LOADCAST_DATABASE_URL",
        hide_env_values = true
    )]
    pub db: Option<String>,
    /// A table and its target: `orders=2000000`, `orders=2x`, `orders=horizon`. Repeatable;
    /// adds to or overrides the plan's tables.
    #[arg(long = "rows", value_name = "TABLE=TARGET")]
    pub rows: Vec<loadcast_plan::TableSpec>,
    /// The projection (from `loadcast forecast`) for tables that grow to the horizon
    /// [default: forecast from the plan's [history]].
    #[arg(long, value_name = "FILE")]
    pub projection: Option<PathBuf>,
    /// Which bound of the projection: `point`, `p80` or `p95` [default: the plan's
    /// horizon.data, else point].
    #[arg(long)]
    pub bound: Option<loadcast_plan::Bound>,
    /// Mark the database as a test target (creates the loadcast_target table) and exit.
    #[arg(long)]
    pub init_marker: bool,
    /// Write to this database without a marker (its exact name, as a second key).
    #[arg(long, value_name = "NAME")]
    pub allow_database: Option<String>,
    /// Rows per batch; each batch is one transaction, so an interrupted run resumes exactly.
    #[arg(long, default_value_t = 20_000)]
    pub batch: usize,
    /// Connections writing at once (PostgreSQL; a server backend per connection).
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    /// Skip ANALYZE after growth.
    #[arg(long)]
    pub no_analyze: bool,
    /// Seed of the value generators.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How to show progress.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A shorter run for CI (under a minute): fewer scales, shorter steps.
    #[arg(long)]
    pub quick: bool,
    /// Only start the sample shop (seeded with today's data) and keep it serving; a plan that
    /// targets it is written beside its database.
    #[arg(long)]
    pub serve: bool,
    /// The loopback port the shop serves on [default: any free port].
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,
    /// Where to put the shop's database, the plan, the history and the report: a new or empty
    /// directory, or one an earlier demo made [default: a new directory under the system's
    /// temporary directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Also write the demo's figures as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Only the stages and the story, not every search step.
    #[arg(long, short)]
    pub quiet: bool,
    /// Serve an existing shop database (how the demo starts its shop process).
    #[arg(long, value_name = "DB", hide = true)]
    pub serve_db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// The plan: its scenarios, [slo] (what "broken" means), [database] and [capacity].
    pub plan: PathBuf,
    /// First rate of the search (`50/s`) [default: capacity.from, else 50/s].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub from: Option<f64>,
    /// Geometric factor between steps [default: capacity.factor, else 1.5].
    #[arg(long)]
    pub factor: Option<f64>,
    /// How long each step holds its rate [default: capacity.hold, else 10s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub hold: Option<std::time::Duration>,
    /// Warm-up before the first step [default: capacity.warmup, else 3s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<std::time::Duration>,
    /// Bisection stops when the bracket is narrower than this share.
    #[arg(long, default_value_t = 0.05)]
    pub precision: f64,
    /// Searches at each scale: the capacity is their median, and `compare` judges a change by
    /// the spread between them [default: capacity.repeat, else 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=loadcast_plan::MAX_REPEAT as i64))]
    pub repeat: Option<u8>,
    /// Most search steps per scale.
    #[arg(long, default_value_t = 20)]
    pub max_steps: usize,
    /// Data scales, e.g. `2x,4x,horizon` (today's is always first; `1x` for today's only)
    /// [default: capacity.data_scales].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub scales: Option<Vec<loadcast_plan::DataScale>>,
    /// The projection (`loadcast forecast`) for the runway and the horizon scale [default:
    /// forecast from the plan's [history], when it has one].
    #[arg(long, value_name = "FILE")]
    pub projection: Option<PathBuf>,
    /// The projection's traffic series [default: the first traffic series].
    #[arg(long, value_name = "NAME")]
    pub traffic_series: Option<String>,
    /// Also sweep closed-model concurrency (capacity.users, else 1..32) and fit the USL.
    #[arg(long)]
    pub usl: bool,
    /// Grow a database that has no marker, named exactly.
    #[arg(long, value_name = "NAME")]
    pub allow_database: Option<String>,
    /// Where to write the study (JSON) [default: capacity.json].
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// No line per step.
    #[arg(long)]
    pub quiet: bool,
}

/// `50/s`, `300/m` as a rate per second, with the plan's own parser.
fn parse_rate(text: &str) -> Result<f64, String> {
    loadcast_plan::units::parse_rate(text).map_err(|expected| format!("expected {expected}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A live bar on a terminal, plain lines otherwise.
    Auto,
    Bar,
    Lines,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Validate a plan, print what it will do, and warn about what it will not measure
    /// (every user the same identity, fewer distinct users than concurrent ones, no checks).
    Check {
        /// The plan file (TOML).
        plan: PathBuf,
        /// Exit with code 2 when there is any warning.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Write a starting plan, suggested from history: load at the forecast's seasonal peak, data
    /// scales up to the horizon, and the SLOs and capacity of earlier runs in the store.
    Init(InitArgs),
    /// Render a plan as a review document (Markdown, or HTML): what is tested, the data
    /// volume, the forecast it rests on, SLOs, schedule, risks, assumptions and sign-off.
    Render(RenderArgs),
    /// Turn a browser recording (a HAR file from the developer tools) into a plan: static
    /// assets skipped, server-issued tokens captured and replayed per user, pauses kept.
    ImportHar(ImportHarArgs),
    /// Turn a pgbench custom script into a plan of SQL steps: `\set … random*(…)` as values
    /// each iteration draws, `:name` as statement parameters, BEGIN … END as a transaction.
    ImportPgbench(ImportPgbenchArgs),
}

#[derive(Debug, Args)]
pub struct ImportPgbenchArgs {
    /// The pgbench script (`pgbench -f`).
    pub script: PathBuf,
    /// The database the statements go to (`${env:NAME}` keeps a password out of the file).
    #[arg(long, value_name = "URL")]
    pub database: String,
    /// pgbench's scale factor, the value of `:scale` (`pgbench -s`).
    #[arg(long, default_value_t = 1)]
    pub scale: i64,
    /// Closed model with this many users (`pgbench -c`); with `--rate`, the connections the
    /// arrivals share (pgbench -R's clients).
    #[arg(long, default_value_t = 1)]
    pub clients: u32,
    /// Open model at this many transactions per second instead (`pgbench -R`).
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// How long the load runs (`pgbench -T`).
    #[arg(long, default_value = "60s")]
    pub duration: String,
    /// Iterations longer than this count as late, and with `--rate` arrivals already this
    /// late are skipped (`pgbench -L`), e.g. `50ms`.
    #[arg(long, value_name = "DURATION")]
    pub latency_limit: Option<String>,
    /// Where to write the plan [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The plan's name (also how earlier runs are found in the store).
    #[arg(long, default_value = "my-service")]
    pub name: String,
    /// The service to test.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// History as CSV (as for `loadcast forecast`).
    #[arg(long, value_name = "CSV")]
    pub history: Option<PathBuf>,
    /// A traffic column of the history.
    #[arg(long, value_name = "COLUMN", value_parser = traffic_series)]
    pub traffic: Vec<SeriesSpec>,
    /// A data series of the history: `orders=orders_rows`.
    #[arg(long, value_name = "NAME=COLUMN", value_parser = data_series)]
    pub data: Vec<SeriesSpec>,
    /// How far ahead the plan tests.
    #[arg(long, default_value = "6months", value_parser = humantime::parse_duration)]
    pub horizon: std::time::Duration,
    /// Where to write the plan [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The plan file (TOML).
    pub plan: PathBuf,
    /// A projection to include (file or run id).
    #[arg(long, value_name = "FILE_OR_ID")]
    pub projection: Option<String>,
    /// A capacity study to include (file or run id) [default: the plan's newest in the store].
    #[arg(long, value_name = "FILE_OR_ID")]
    pub capacity: Option<String>,
    /// Where to write it [default: standard output]; `.html` writes HTML.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportHarArgs {
    /// The recording (HAR 1.2 JSON).
    pub har: PathBuf,
    /// Where to write the plan [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The plan's target [default: the recording's origin].
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Keep stylesheets, scripts, images and fonts.
    #[arg(long)]
    pub include_static: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExportCommand {
    /// Kubernetes objects for a sharded run: the plan and its feeders in a ConfigMap, an
    /// Indexed Job (one pod per shard, spread over nodes, resources sized from the plan) and a
    /// Job that waits for every shard and merges them, as JSON documents `kubectl apply -f`
    /// reads.
    Kubernetes(ExportKubernetesArgs),
}

#[derive(Debug, Args)]
pub struct ExportKubernetesArgs {
    /// The plan file (TOML).
    pub plan: PathBuf,
    /// How many shards (pods).
    #[arg(long, value_name = "N")]
    pub shards: u32,
    /// The loadcast image (build it from the repository's Dockerfile).
    #[arg(long)]
    pub image: String,
    /// Where the shards write and the merge reads: `s3://bucket/run-id/`, `gs://…`, `az://…`.
    #[arg(long, value_name = "URL")]
    pub out: String,
    /// The objects' name prefix [default: the plan's name].
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub namespace: Option<String>,
    /// A shared start for every shard (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Where to write the manifests [default: standard output].
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' results: files, or object storage prefixes (`s3://bucket/run-id/`) whose
    /// `.result.json` objects are read — every attempt; the merge keeps one complete one per
    /// shard.
    #[arg(required = true, value_name = "FILE|URL")]
    pub results: Vec<String>,
    /// Wait until this many shards have a complete result (as the Job's last step).
    #[arg(long, value_name = "N")]
    pub wait: Option<u32>,
    /// How long `--wait` waits before merging what there is and failing.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Where to write the merged result: a file or an object storage URL [default:
    /// merged.result.json; with prefixes given, merged.result.json under the first].
    #[arg(short, long, value_name = "FILE|URL")]
    pub out: Option<String>,
    #[command(flatten)]
    pub files: OutputFiles,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The plan file, with a [watch] section.
    pub plan: PathBuf,
    /// The capacity study to judge against: a file or a run id [default: the plan's latest in
    /// the run store, re-read each cycle].
    #[arg(long, value_name = "FILE_OR_ID")]
    pub study: Option<String>,
    /// One cycle: print it, record it, and exit (3 when the runway is under --fail-under).
    #[arg(long)]
    pub once: bool,
    /// With --once, exit 3 when the data-aware runway (point forecast) is shorter; with
    /// --rules, the runway alert's limit.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub fail_under: std::time::Duration,
    /// Write alerting rules for Prometheus to FILE and exit.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// With --rules: the headroom alert's limit.
    #[arg(long, value_name = "RATIO", default_value_t = 1.2)]
    pub headroom_under: f64,
    /// With --rules: a study older than this is stale.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub stale_after: std::time::Duration,
    /// Where to serve /metrics.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,
    /// Time between cycles [default: the plan's watch.interval].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub interval: Option<std::time::Duration>,
    /// The Prometheus server [default: the plan's watch.prometheus].
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Stop after this many cycles [default: until interrupted].
    #[arg(long, value_name = "N")]
    pub cycles: Option<u64>,
    /// With --once, print the cycle as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run results, capacity studies or projections: files, or run ids from `loadcast runs`.
    /// Several run results are merged (shards).
    #[arg(required = true, value_name = "FILE_OR_ID")]
    pub inputs: Vec<String>,
    /// Merge run results even when they come from different plans, targets or load models.
    #[arg(long)]
    pub force: bool,
    /// Print the (merged) run result as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub files: OutputFiles,
    /// The HTML report's title.
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// A record id to show; without it, the newest records are listed.
    pub id: Option<i64>,
    /// Only runs, capacity studies, forecasts or watch cycles (`run`, `capacity`, `forecast`,
    /// `watch`).
    #[arg(long)]
    pub kind: Option<loadcast_store::Kind>,
    /// How many records to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run or capacity study (file or run id).
    pub a: String,
    /// The run or study to judge against it.
    pub b: String,
    /// Exit 3 when B is worse than A by more than this (p50, p99, throughput or error rate),
    /// beyond run-to-run noise, for the whole run or any one request; for two capacity
    /// studies, a scale's capacity lower beyond the searches' brackets: `10%`.
    #[arg(long, value_name = "PERCENT", value_parser = fraction)]
    pub fail_on_regression: Option<f64>,
    /// Changes of throughput, p50 and p99 smaller than this are not judged (run-to-run noise
    /// that resampling within a run cannot see) [default: 2% throughput, 5% p50, 7.5% p99].
    /// Lower it on a quiet, dedicated machine. Runs only.
    #[arg(long, value_name = "PERCENT", value_parser = fraction)]
    pub noise_floor: Option<f64>,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

fn traffic_series(text: &str) -> Result<SeriesSpec, String> {
    SeriesSpec::parse(text, SeriesKind::Traffic)
}

fn data_series(text: &str) -> Result<SeriesSpec, String> {
    SeriesSpec::parse(text, SeriesKind::Data)
}

fn wall_clock(text: &str) -> Result<loadcast_forecast::clock::WallClock, String> {
    loadcast_forecast::clock::WallClock::new(text)
}

fn time(text: &str) -> Result<i64, String> {
    loadcast_stats::time::parse_time(text).ok_or_else(|| {
        format!("{text:?} is not a time: RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds")
    })
}

fn fraction(text: &str) -> Result<f64, String> {
    loadcast_plan::units::parse_fraction(text).map_err(|expected| format!("expected {expected}"))
}
