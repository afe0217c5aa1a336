//! What makes one virtual user distinct from another: its number, its feeder rows, the values it
//! captured, its cookie jar and its random stream. Also what a step does with a response for
//! its user: captures and checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loadcast_plan::template::Scope;
use loadcast_plan::{Capture, CaptureSource, Checks, Feeder, FeederStrategy, JsonExpectation};
use loadcast_stats::ErrorKind;

/// A feeder during a run: its rows, and the run-wide position of the in-order strategies.
#[derive(Debug)]
pub(crate) struct FeederRun {
    pub feeder: Feeder,
    /// Next row for `sequential` and `circular`, shared by every worker.
    pub next: AtomicU64,
    /// This shard's rows of the in-order strategies are `shard`, `shard + shards`, …: no row
    /// goes to two shards.
    shard: u64,
    shards: u64,
}

impl FeederRun {
    pub(crate) fn new(feeder: &Feeder, shard: u32, shards: u32) -> Self {
        Self {
            feeder: feeder.clone(),
            next: AtomicU64::new(0),
            shard: u64::from(shard),
            shards: u64::from(shards.max(1)),
        }
    }

    /// The next in-order position of this shard.
    fn next_position(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) * self.shards + self.shard
    }

    fn rows(&self) -> u64 {
        self.feeder.data.rows() as u64
    }

    /// The row a new user keeps for life (`unique`: its number, wrapping when reuse is allowed);
    /// `None` when the rows are used up and the plan does not allow reuse.
    fn row_for_user(&self, id: u64) -> Option<u32> {
        let rows = self.rows();
        if id >= rows && !self.feeder.reuse {
            return None;
        }
        Some((id % rows) as u32)
    }

    /// The row for an iteration; `None` when a `sequential` feeder is used up.
    fn row_for_iteration(&self, rng: &mut fastrand::Rng) -> Option<u32> {
        let rows = self.rows();
        match self.feeder.strategy {
            FeederStrategy::Unique => None,
            FeederStrategy::Random => Some(rng.u64(0..rows) as u32),
            FeederStrategy::Circular => Some((self.next_position() % rows) as u32),
            FeederStrategy::Sequential => {
                let n = self.next_position();
                (n < rows).then_some(n as u32)
            }
        }
    }
}

/// One virtual user's own state.
#[derive(Debug)]
pub(crate) struct UserData {
    /// Run-wide user number, from 0 (templates show it from 1).
    pub id: u64,
    pub iteration: u64,
    pub rng: fastrand::Rng,
    /// Current row of each feeder.
    rows: Box<[u32]>,
    /// Captured values, by variable index.
    vars: Box<[Option<Box<str>>]>,
    pub cookies: CookieJar,
}

impl UserData {
    /// A new user: fresh captures and cookies; `None` when a `unique` feeder has no row left
    /// for it.
    pub(crate) fn new(id: u64, seed: u64, feeders: &[FeederRun], variables: usize) -> Option<Self> {
        Some(Self {
            id,
            iteration: 0,
            rng: fastrand::Rng::with_seed(seed),
            rows: feeders
                .iter()
                .map(|f| match f.feeder.strategy {
                    FeederStrategy::Unique => f.row_for_user(id),
                    _ => Some(0),
                })
                .collect::<Option<_>>()?,
            vars: (0..variables).map(|_| None).collect(),
            cookies: CookieJar::default(),
        })
    }

    /// Takes this iteration's rows from the per-iteration feeders `used`. `false` when a
    /// sequential feeder is used up: the iteration must not run.
    pub(crate) fn next_rows(&mut self, feeders: &[FeederRun], used: &[usize]) -> bool {
        for &i in used {
            match feeders[i].row_for_iteration(&mut self.rng) {
                Some(row) => self.rows[i] = row,
                None => return false,
            }
        }
        true
    }

    pub(crate) fn scope<'a>(&'a mut self, feeders: &'a [FeederRun]) -> UserScope<'a> {
        UserScope {
            user: self,
            feeders,
        }
    }

    /// Keeps a captured value.
    pub(crate) fn set_var(&mut self, var: usize, value: String) {
        self.vars[var] = Some(value.into_boxed_str());
    }

    /// Applies a step's captures to a response. Returns the first capture that found nothing.
    pub(crate) fn capture<'c>(
        &mut self,
        captures: &'c [Capture],
        body: Option<&[u8]>,
        headers: &[(String, String)],
    ) -> Result<(), &'c Capture> {
        for capture in captures {
            let value = match &capture.source {
                CaptureSource::Json(pointer) => body
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                    .and_then(|v| v.pointer(pointer).map(json_text)),
                CaptureSource::Header(name) => headers
                    .iter()
                    .find(|(n, _)| n == name.as_str())
                    .map(|(_, v)| v.clone()),
                // Validation keeps row captures on SQL steps.
                CaptureSource::Row { .. } => None,
                CaptureSource::Regex(re) => body.and_then(|b| {
                    let text = String::from_utf8_lossy(b);
                    re.captures(&text).map(|c| {
                        c.get(1)
                            .or_else(|| c.get(0))
                            .map_or(String::new(), |m| m.as_str().to_string())
                    })
                }),
            };
            match value {
                Some(v) => self.vars[capture.var] = Some(v.into_boxed_str()),
                None => return Err(capture),
            }
        }
        Ok(())
    }
}

/// A JSON value as text: strings without their quotes, anything else as JSON.
fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A user's data as templates see it.
pub(crate) struct UserScope<'a> {
    user: &'a mut UserData,
    feeders: &'a [FeederRun],
}

impl Scope for UserScope<'_> {
    fn field(&self, feeder: usize, column: usize) -> &str {
        let row = self.user.rows[feeder] as usize;
        self.feeders[feeder].feeder.data.cell(row, column)
    }

    fn var(&self, index: usize) -> Option<&str> {
        self.user.vars.get(index)?.as_deref()
    }

    fn vu(&self) -> u64 {
        self.user.id + 1
    }

    fn iteration(&self) -> u64 {
        self.user.iteration
    }

    fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.user.rng
    }
}

/// How a response fares against its step: an error status, a failed check, or fine. A status
/// the step accepts (`check = { status = 404 }`) is a success even when it is 4xx/5xx.
pub(crate) fn verdict(
    checks: &Checks,
    scope: &mut UserScope<'_>,
    status: u16,
    body: Option<&[u8]>,
    latency: Duration,
) -> Option<ErrorKind> {
    let status_ok = match &checks.status {
        Some(accepted) => accepted.contains(&status),
        None => status < 400,
    };
    if !status_ok {
        return Some(if status >= 400 {
            ErrorKind::Status(status)
        } else {
            ErrorKind::Check
        });
    }
    if let Some(needle) = &checks.body_contains {
        let needle = needle.render_string(scope);
        let found = body.is_some_and(|b| {
            needle.is_empty() || b.windows(needle.len()).any(|w| w == needle.as_bytes())
        });
        if !found {
            return Some(ErrorKind::Check);
        }
    }
    if !checks.json.is_empty() {
        let Some(document) = body.and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        else {
            return Some(ErrorKind::Check);
        };
        for (pointer, expected) in &checks.json {
            let ok = document
                .pointer(pointer)
                .is_some_and(|found| match expected {
                    JsonExpectation::Value(v) => found == v,
                    JsonExpectation::Text(t) => json_text(found) == t.render_string(scope),
                });
            if !ok {
                return Some(ErrorKind::Check);
            }
        }
    }
    if checks.max_latency.is_some_and(|max| latency > max) {
        return Some(ErrorKind::Check);
    }
    None
}

/// A virtual user's cookies for the one origin it talks to.
#[derive(Debug, Default)]
pub(crate) struct CookieJar {
    cookies: Vec<StoredCookie>,
}

#[derive(Debug)]
struct StoredCookie {
    name: Box<str>,
    value: Box<str>,
    path: Box<str>,
    /// Seconds since the Unix epoch after which the cookie is gone.
    expires: Option<i64>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl CookieJar {
    pub(crate) fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Stores (or, when expired, removes) a cookie from a `Set-Cookie` header.
    pub(crate) fn store(&mut self, set_cookie: &str, request_path: &str) {
        let Ok(cookie) = cookie::Cookie::parse(set_cookie) else {
            return;
        };
        let now = unix_now();
        let expires = match (cookie.max_age(), cookie.expires_datetime()) {
            (Some(age), _) => Some(now + age.whole_seconds()),
            (None, Some(at)) => Some(at.unix_timestamp()),
            (None, None) => None,
        };
        // RFC 6265 §5.1.4: without a Path, the directory of the request path.
        let path = match cookie.path() {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ => {
                let path = request_path.split('?').next().unwrap_or("/");
                match path.rfind('/') {
                    Some(0) | None => "/".to_string(),
                    Some(i) => path[..i].to_string(),
                }
            }
        };
        self.cookies
            .retain(|c| !(&*c.name == cookie.name() && *c.path == path));
        if expires.is_none_or(|at| at > now) {
            self.cookies.push(StoredCookie {
                name: cookie.name().into(),
                value: cookie.value().into(),
                path: path.into(),
                expires,
            });
        }
    }

    /// The `Cookie` header value for a request path, or `None` when no cookie applies.
    pub(crate) fn header_for(&mut self, request_path: &str) -> Option<String> {
        let now = unix_now();
        self.cookies.retain(|c| c.expires.is_none_or(|at| at > now));
        let path = request_path.split('?').next().unwrap_or("/");
        let mut header = String::new();
        for c in &self.cookies {
            let matches = path == &*c.path
                || (path.starts_with(&*c.path)
                    && (c.path.ends_with('/') || path[c.path.len()..].starts_with('/')));
            if matches {
                if !header.is_empty() {
                    header.push_str("; ");
                }
                header.push_str(&c.name);
                header.push('=');
                header.push_str(&c.value);
            }
        }
        (!header.is_empty()).then_some(header)
    }
}

/// The feeders of a run, shared by every worker.
pub(crate) type Feeders = Arc<[FeederRun]>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_jar_follows_path_expiry_and_replacement() {
        let mut jar = CookieJar::default();
        jar.store("sid=1; Path=/; HttpOnly", "/login");
        jar.store("pref=dark; Path=/app", "/login");
        jar.store("dir=x", "/shop/cart");
        assert_eq!(jar.header_for("/").as_deref(), Some("sid=1"));
        assert_eq!(
            jar.header_for("/app/page?x=1").as_deref(),
            Some("sid=1; pref=dark")
        );
        assert_eq!(jar.header_for("/application"), Some("sid=1".into()));
        assert_eq!(jar.header_for("/shop/items"), Some("sid=1; dir=x".into()));
        jar.store("sid=2; Path=/", "/");
        assert_eq!(jar.header_for("/").as_deref(), Some("sid=2"));
        jar.store("sid=gone; Path=/; Max-Age=0", "/");
        jar.store(
            "pref=x; Path=/app; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "/",
        );
        assert_eq!(jar.header_for("/app"), None);
        assert!(jar.is_empty() || jar.header_for("/shop/x").is_some());
    }
}
