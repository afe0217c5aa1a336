//! The validated plan: real units, resolved URLs, nothing left to interpret.

use std::path::PathBuf;
use std::time::Duration;

use loadcast_stats::Threshold;

/// A validated load-test plan.
#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    /// Where the plan came from (for error messages and the run record).
    pub path: PathBuf,
    /// SHA-256 of the plan file (hex): every result carries it.
    pub hash: String,
    pub target: Target,
    pub http: HttpSettings,
    pub scenarios: Vec<Scenario>,
    pub load: Load,
    pub thresholds: Vec<Threshold>,
}

/// The one origin every request goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// A path prefix from the target URL (`/api`), without a trailing slash; often empty.
    pub base_path: String,
}

impl Target {
    pub fn is_tls(&self) -> bool {
        self.scheme == "https"
    }

    /// `host:port`, with IPv6 hosts bracketed.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority(), self.base_path)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/2 when TLS negotiates it (ALPN), HTTP/1.1 otherwise.
    Auto,
    Http1,
    /// HTTP/2 only: over TLS by ALPN, over plain TCP with prior knowledge (h2c).
    Http2,
}

#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub version: HttpVersion,
    /// Whole-request timeout: from send to the last byte of the body.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Accept any server certificate (self-signed test targets).
    pub insecure: bool,
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Headers sent with every request.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

/// A named, weighted sequence of steps that one virtual user runs per iteration.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub weight: u32,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug)]
pub enum Step {
    Request(RequestSpec),
    Think(ThinkTime),
}

/// One HTTP request of a scenario.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    /// The name results are reported under (`GET /products` unless the plan names it).
    pub name: String,
    pub method: http::Method,
    /// Path and query, already joined with the target's base path.
    pub path_and_query: String,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub body: Body,
    /// Overrides the plan-wide timeout.
    pub timeout: Option<Duration>,
}

/// A request body, fully prepared at plan load.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Empty,
    /// Bytes with the content type they imply (`application/json` for `json = …`).
    Bytes {
        content: Vec<u8>,
        content_type: Option<&'static str>,
    },
}

impl Body {
    pub fn len(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Bytes { content, .. } => content.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A pause between steps, as a user reading a page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThinkTime {
    Fixed(Duration),
    /// Uniformly random between the two bounds.
    Uniform(Duration, Duration),
}

/// How load is applied.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Arrivals on a schedule that does not wait for responses.
    Open(OpenLoad),
    /// Virtual users that loop: the next iteration starts when the last one ends.
    Closed(ClosedLoad),
}

impl Load {
    pub fn duration(&self) -> Duration {
        match self {
            Load::Open(open) => open.stages.iter().map(|s| s.over).sum(),
            Load::Closed(closed) => closed.stages.iter().map(|s| s.over).sum(),
        }
    }

    pub fn model_name(&self) -> &'static str {
        match self {
            Load::Open(_) => "open",
            Load::Closed(_) => "closed",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct OpenLoad {
    pub stages: Vec<RateStage>,
    /// Most iterations in flight at once; arrivals beyond it wait and are counted.
    pub max_in_flight: u32,
    /// An arrival that starts later than this after its intended time counts as late.
    pub late_after: Duration,
}

impl OpenLoad {
    /// Arrivals the schedule asks for over its whole duration.
    pub fn expected_arrivals(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| (s.from + s.to) / 2.0 * s.over.as_secs_f64())
            .sum()
    }

    pub fn peak_rate(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.from.max(s.to))
            .fold(0.0, f64::max)
    }
}

/// The arrival rate moves linearly from `from` to `to` (per second) over `over`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStage {
    pub from: f64,
    pub to: f64,
    pub over: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClosedLoad {
    pub stages: Vec<UserStage>,
    /// Each user starts an iteration at most this often.
    pub pacing: Option<Duration>,
}

impl ClosedLoad {
    pub fn peak_users(&self) -> u32 {
        self.stages
            .iter()
            .map(|s| s.from.max(s.to))
            .max()
            .unwrap_or(0)
    }
}

/// The number of virtual users moves linearly from `from` to `to` over `over`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UserStage {
    pub from: u32,
    pub to: u32,
    pub over: Duration,
}
