//! Warnings about plans that are valid but will not measure what their authors think: above all,
//! a load test that runs as one user while production has thousands.

use std::fmt;

use crate::feeder::FeederStrategy;
use crate::model::{Body, Plan, RequestSpec, Step};
use crate::template::{Expr, Part, Template};

/// A warning about a valid plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lint {
    /// A stable name (`single-identity`, `few-users`, `no-checks`, `unused-load`).
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "warning[{}]: {}", self.code, self.message)
    }
}

/// Paths that log a user in or hand out credentials.
const LOGIN_WORDS: [&str; 7] = [
    "login", "signin", "sign-in", "sign_in", "auth", "session", "token",
];
/// Headers that carry an identity.
const IDENTITY_HEADERS: [&str; 4] = ["authorization", "cookie", "x-api-key", "x-auth-token"];

impl Plan {
    /// Everything worth a reviewer's attention before the plan runs.
    pub fn lints(&self) -> Vec<Lint> {
        let mut lints = Vec::new();
        self.lint_identity(&mut lints);
        self.lint_distinct_users(&mut lints);
        for scenario in &self.scenarios {
            let checked = scenario.steps.iter().any(|s| match s {
                Step::Request(r) => !r.checks.is_empty() || !r.captures.is_empty(),
                // A statement that fails is an error by itself; an empty result is not.
                Step::Sql(_) | Step::Transaction(_) => true,
                Step::Set(_) | Step::Think(_) => false,
            });
            if !checked {
                lints.push(Lint {
                    code: "no-checks",
                    message: format!(
                        "scenario {:?} has no checks: a 200 with an error page counts as success \
                         (add check = {{ status = 200, body = \"…\" }} to its steps)",
                        scenario.name
                    ),
                });
            }
        }
        let latency_only = self.thresholds.iter().any(|t| t.metric.is_latency())
            && !self.thresholds.iter().any(|t| !t.metric.is_latency());
        if latency_only {
            lints.push(Lint {
                code: "latency-without-errors",
                message: "[slo] judges latency but not errors: a service that fails fast looks \
                          fast (add errors = \"1%\")"
                    .into(),
            });
        }
        self.lint_secrets_in_urls(&mut lints);
        if self.load.is_some() && self.scenarios.iter().all(|s| s.load.is_some()) {
            lints.push(Lint {
                code: "unused-load",
                message: "every scenario has its own load: the plan-wide [load] is not used".into(),
            });
        }
        lints
    }

    /// A credential column sent in a URL: the target's access logs, proxies and browsers'
    /// histories keep URLs, so the secret would outlive the test.
    fn lint_secrets_in_urls(&self, lints: &mut Vec<Lint>) {
        for scenario in &self.scenarios {
            for step in &scenario.steps {
                let Step::Request(r) = step else { continue };
                for part in &r.path.parts {
                    let Part::Expr(Expr::Field { feeder, column }, _) = part else {
                        continue;
                    };
                    let Some(f) = self.feeders.get(*feeder) else {
                        continue;
                    };
                    let name = f.data.columns().get(*column).cloned().unwrap_or_default();
                    if f.secret.contains(&name) {
                        lints.push(Lint {
                            code: "secret-in-url",
                            message: format!(
                                "{:?} sends {}.{name}, a secret column, in its URL: access logs \
                                 keep URLs (send it in a header or the body)",
                                r.name, f.name
                            ),
                        });
                    }
                }
            }
        }
    }

    /// Logins and identity headers that are the same for every virtual user.
    fn lint_identity(&self, lints: &mut Vec<Lint>) {
        let varies = |t: &Template| self.varies_per_user(t);
        for (name, value) in &self.http.headers {
            if IDENTITY_HEADERS.contains(&name.as_str()) && !varies(value) {
                lints.push(Lint {
                    code: "single-identity",
                    message: format!(
                        "http.headers.{name} is the same for every request: every virtual user \
                         runs as one identity (use a feeder: {{{{user.token}}}}, or a token \
                         captured at login)"
                    ),
                });
            }
        }
        for scenario in &self.scenarios {
            for step in &scenario.steps {
                let Step::Request(request) = step else {
                    continue;
                };
                for (name, value) in &request.headers {
                    if IDENTITY_HEADERS.contains(&name.as_str()) && !varies(value) {
                        lints.push(Lint {
                            code: "single-identity",
                            message: format!(
                                "step {:?} in scenario {:?} sends the same {name} header for \
                                 every virtual user: they all run as one identity",
                                request.name, scenario.name
                            ),
                        });
                    }
                }
                if is_login(request) && !self.request_varies_per_user(request) {
                    lints.push(Lint {
                        code: "single-identity",
                        message: format!(
                            "step {:?} in scenario {:?} logs every virtual user in with the same \
                             credentials: caches, locks and sessions will behave like one user's \
                             (feed per-user rows: [feeders.user] csv = \"users.csv\", then \
                             {{{{user.email}}}})",
                            request.name, scenario.name
                        ),
                    });
                }
            }
        }
    }

    /// Feeders with fewer distinct rows than the users the load will be.
    fn lint_distinct_users(&self, lints: &mut Vec<Lint>) {
        let peak = self.peak_users();
        let needed = self.users_needed();
        for feeder in &self.feeders {
            let rows = feeder.data.rows() as u64;
            let (shared, users) = match feeder.strategy {
                FeederStrategy::Unique => (rows < needed, needed),
                _ => (rows < peak, peak),
            };
            if shared && feeder.strategy == FeederStrategy::Unique && !feeder.reuse {
                lints.push(Lint {
                    code: "few-users",
                    message: format!(
                        "feeder {:?} has {rows} rows for about {users} users (in the open model \
                         every arrival is a new user): {} arrivals will find no identity and are \
                         counted, not run (more rows, or reuse = true to share them)",
                        feeder.name,
                        users - rows
                    ),
                });
            } else if shared {
                lints.push(Lint {
                    code: "few-users",
                    message: format!(
                        "feeder {:?} has {rows} rows for up to {users} virtual users: \
                         users will share identities",
                        feeder.name
                    ),
                });
            }
            for (column, name) in feeder.data.columns().iter().enumerate() {
                let identity = ["email", "user", "username", "login", "id", "user_id"]
                    .contains(&name.to_ascii_lowercase().as_str());
                let distinct = feeder.data.distinct(column) as u64;
                if identity && distinct < rows.min(peak) {
                    lints.push(Lint {
                        code: "few-users",
                        message: format!(
                            "feeder {:?} column {name:?} has only {distinct} distinct values for \
                             up to {} concurrent virtual users",
                            feeder.name,
                            rows.min(peak)
                        ),
                    });
                }
            }
        }
    }

    /// Whether a template gives different users different values: it reads a feeder with more
    /// than one distinct value, or a value captured from the target (a session token).
    fn varies_per_user(&self, template: &Template) -> bool {
        template.parts.iter().any(|part| match part {
            Part::Expr(Expr::Field { feeder, column }, _) => {
                self.feeders[*feeder].data.distinct(*column) > 1
            }
            Part::Expr(Expr::Var(_) | Expr::Vu | Expr::Uuid, _) => true,
            _ => false,
        })
    }

    fn request_varies_per_user(&self, request: &RequestSpec) -> bool {
        self.varies_per_user(&request.path)
            || request.headers.iter().any(|(_, t)| self.varies_per_user(t))
            || match &request.body {
                Body::Template { template, .. } => self.varies_per_user(template),
                _ => false,
            }
    }
}

fn is_login(request: &RequestSpec) -> bool {
    if request.method != http::Method::POST {
        return false;
    }
    let path: String = request
        .path
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.to_ascii_lowercase()),
            Part::Expr(..) => None,
        })
        .collect();
    let path = path.split('?').next().unwrap_or_default();
    LOGIN_WORDS.iter().any(|w| path.contains(w))
}
