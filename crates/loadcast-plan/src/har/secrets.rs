//! Credentials a recording carries are not copied into the plan: a plan is reviewed, committed
//! and shared, and the recorded user's password or token would travel with it. Each recorded
//! secret becomes a `${env:HAR_…}` reference (one variable per distinct value), and the importer
//! says which variables to set.
//!
//! What counts as a secret: an `Authorization`, `Proxy-Authorization` or API-key header whose
//! value the server did not hand out in the recording (those are already captures), and a
//! JSON field, form field or query parameter named like a password, token or key.

use std::collections::BTreeMap;

use super::Draft;

/// A recorded value the plan names by an environment variable instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withheld {
    /// The variable to set (`HAR_PASSWORD`).
    pub variable: String,
    /// Where the recording had it (`the Authorization header`, `the password field`).
    pub what: String,
}

fn secret_header(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "proxy-authorization" | "x-api-key" | "x-auth-token"
    )
}

fn secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    matches!(
        name.as_str(),
        "password"
            | "passwd"
            | "pass"
            | "pwd"
            | "secret"
            | "token"
            | "otp"
            | "pin"
            | "apikey"
            | "api_key"
            | "auth"
            | "signature"
    ) || ["password", "secret", "token", "_key", "apikey"]
        .iter()
        .any(|end| name.ends_with(end))
}

/// Names each distinct recorded value once: the same password in two logins is one variable.
#[derive(Default)]
struct Variables {
    by_value: BTreeMap<String, String>,
    withheld: Vec<Withheld>,
}

impl Variables {
    fn reference(&mut self, value: &str, name: &str, what: String) -> String {
        if let Some(variable) = self.by_value.get(value) {
            return format!("${{env:{variable}}}");
        }
        let base: String = format!("HAR_{name}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        let mut variable = base.clone();
        let mut n = 2;
        while self.withheld.iter().any(|w| w.variable == variable) {
            variable = format!("{base}_{n}");
            n += 1;
        }
        self.by_value.insert(value.to_string(), variable.clone());
        self.withheld.push(Withheld {
            variable: variable.clone(),
            what,
        });
        format!("${{env:{variable}}}")
    }
}

/// A recorded value that is neither empty, nor already a template or a reference.
fn recorded(value: &str) -> bool {
    !value.is_empty() && !value.contains("{{") && !value.contains("${env:")
}

/// Replaces every recorded secret of `drafts` by a variable reference; returns the variables.
pub(super) fn withhold(drafts: &mut [Draft]) -> Vec<Withheld> {
    let mut vars = Variables::default();
    for d in drafts.iter_mut() {
        for (name, value) in &mut d.headers {
            if secret_header(name) && recorded(value) {
                let what = format!("the {name} header");
                *value = vars.reference(value, name, what);
            }
        }
        if let Some((path, query)) = d.path.split_once('?') {
            let query = withhold_pairs(query, &mut vars, "query parameter");
            d.path = format!("{path}?{query}");
        }
        if let Some((mime, body)) = &mut d.body {
            if mime.contains("json") {
                if let Ok(mut json) = serde_json::from_str::<serde_json::Value>(body) {
                    if withhold_json(&mut json, &mut vars) {
                        *body = json.to_string();
                    }
                }
            } else if mime.contains("x-www-form-urlencoded") {
                *body = withhold_pairs(body, &mut vars, "form field");
            }
        }
    }
    vars.withheld
}

/// `a=1&password=x` → `a=1&password=${env:HAR_PASSWORD}`.
fn withhold_pairs(pairs: &str, vars: &mut Variables, kind: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if secret_field(key) && recorded(value) => {
                let decoded = percent_encoding::percent_decode_str(&value.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                let reference = vars.reference(&decoded, key, format!("the {key} {kind}"));
                format!("{key}={reference}")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Secret-named string fields anywhere in a JSON body; whether any was replaced.
fn withhold_json(value: &mut serde_json::Value, vars: &mut Variables) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            let mut changed = false;
            for (key, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(s) if secret_field(key) && recorded(s) => {
                        *s = vars.reference(s, key, format!("the {key} field"));
                        changed = true;
                    }
                    other => changed |= withhold_json(other, vars),
                }
            }
            changed
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| withhold_json(v, vars) | changed),
        _ => false,
    }
}
