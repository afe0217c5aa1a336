//! `loadcast plan import-har`: a browser recording (HAR 1.2, what every browser's developer tools
//! export) becomes a plan.
//!
//! What a recording needs before it can run as many users:
//! * **Static assets are skipped** (stylesheets, scripts, images, fonts): a CDN serves them, and
//!   they would drown the application's own requests.
//! * **Dynamic values are correlated**: a value the server handed out in a JSON response (a
//!   token, an id) and that a later request sends back becomes a capture and a `{{name}}`
//!   template, so each virtual user sends its own value, not the recorded one.
//! * **Cookies are left to each user's jar**, and headers a client sets itself (host, length,
//!   encodings, browser hints) are dropped.
//! * **Pauses become think times**, and every step checks the status it got when recorded.
//! * **Recorded secrets stay out of the plan** ([`secrets`]): each becomes a `${env:HAR_…}`
//!   reference to set before the run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use serde::Deserialize;

mod secrets;
pub use secrets::Withheld;

/// How to turn a recording into a plan.
#[derive(Clone, Debug, Default)]
pub struct HarOptions {
    /// The plan's target; requests on other origins are skipped. Defaults to the origin of the
    /// first request that is not a static asset.
    pub target: Option<String>,
    /// Keep static assets (stylesheets, scripts, images, fonts).
    pub include_static: bool,
    /// The plan's name.
    pub name: Option<String>,
}

/// The recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("line {line}, column {column}: not a HAR file: {cause}")]
    Json {
        line: usize,
        column: usize,
        cause: String,
    },
    #[error("the recording has no request to import ({skipped} skipped: {why})")]
    Empty { skipped: usize, why: String },
    #[error("{0:?} is not an http(s) URL to use as the target")]
    Target(String),
}

#[derive(Debug, Deserialize)]
struct Har {
    log: Log,
}

#[derive(Debug, Deserialize)]
struct Log {
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    started_date_time: String,
    /// Total time of the exchange in milliseconds.
    #[serde(default)]
    time: f64,
    request: HarRequest,
    response: HarResponse,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    post_data: Option<PostData>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostData {
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct HarResponse {
    status: u16,
    #[serde(default)]
    content: Content,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    #[serde(default)]
    mime_type: String,
    text: Option<String>,
    encoding: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

/// Headers worth replaying: what the application reads. Everything else is the browser's own
/// business (host, lengths, encodings it can decode, client hints, cookies the jar sends).
fn keep_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "content-type" | "accept" | "accept-language"
    ) || (name.starts_with("x-") && name != "x-requested-with")
}

const STATIC_EXTENSIONS: [&str; 15] = [
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp",
    ".woff", ".woff2", ".ttf", ".otf",
];

fn is_static(entry: &Entry) -> bool {
    let mime = entry.response.content.mime_type.to_ascii_lowercase();
    let path = entry
        .request
        .url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    mime.starts_with("image/")
        || mime.starts_with("font/")
        || mime.contains("css")
        || mime.contains("javascript")
        || STATIC_EXTENSIONS.iter().any(|e| path.ends_with(e))
}

/// `scheme://authority` of a URL, and the rest (path and query).
fn split_origin(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let path = rest[end..].split('#').next().unwrap_or_default();
    let path = if path.is_empty() || path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Some((format!("{scheme}://{}", &rest[..end]), path))
}

/// A request of the recording, on its way to becoming a step.
struct Draft {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, String)>,
    status: u16,
    /// Response JSON, for correlation.
    response_json: Option<serde_json::Value>,
    captures: BTreeMap<String, String>,
    /// Pause before this request, in milliseconds.
    think_ms: u64,
}

/// A recording as a plan.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The plan's TOML.
    pub text: String,
    /// The recorded secrets it names by environment variables instead.
    pub withheld: Vec<Withheld>,
}

impl Imported {
    /// The plan's text with each withheld variable that is not set replaced by a placeholder:
    /// what to validate before the user has set them.
    pub fn text_for_validation(&self) -> String {
        let mut text = self.text.clone();
        for w in &self.withheld {
            if std::env::var_os(&w.variable).is_none() {
                text = text.replace(&format!("${{env:{}}}", w.variable), "withheld");
            }
        }
        text
    }
}

/// Turns a HAR recording into a plan.
pub fn import(text: &str, options: &HarOptions) -> Result<Imported, HarError> {
    let har: Har = serde_json::from_str(text).map_err(|e| HarError::Json {
        line: e.line(),
        column: e.column(),
        cause: e.to_string(),
    })?;
    let mut entries: Vec<&Entry> = har.log.entries.iter().collect();
    entries.sort_by(|a, b| a.started_date_time.cmp(&b.started_date_time));

    let mut skipped_static = 0usize;
    let mut skipped_origin: BTreeMap<String, usize> = BTreeMap::new();
    let target = match &options.target {
        Some(t) => Some(
            split_origin(t.trim_end_matches('/'))
                .ok_or_else(|| HarError::Target(t.clone()))?
                .0,
        ),
        None => None,
    };
    let recorded_origin = entries
        .iter()
        .filter(|e| options.include_static || !is_static(e))
        .find_map(|e| split_origin(&e.request.url).map(|(o, _)| o));
    let Some(recorded_origin) = recorded_origin else {
        return Err(HarError::Empty {
            skipped: entries.len(),
            why: "only static assets or non-HTTP URLs".into(),
        });
    };
    let mut drafts: Vec<Draft> = Vec::new();
    let mut previous_end: Option<f64> = None;
    for entry in entries {
        let Some((origin, path)) = split_origin(&entry.request.url) else {
            continue;
        };
        if !options.include_static && is_static(entry) {
            skipped_static += 1;
            continue;
        }
        if origin != recorded_origin {
            *skipped_origin.entry(origin).or_default() += 1;
            continue;
        }
        let started = timestamp_ms(&entry.started_date_time);
        let think_ms = match (started, previous_end) {
            (Some(start), Some(end)) if start - end >= 500.0 => (start - end) as u64,
            _ => 0,
        };
        if let Some(start) = started {
            let end = start + entry.time.max(0.0);
            previous_end = Some(previous_end.map_or(end, |p: f64| p.max(end)));
        }
        let headers = entry
            .request
            .headers
            .iter()
            .filter(|h| !h.name.starts_with(':') && keep_header(&h.name))
            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
            .collect();
        let body = entry
            .request
            .post_data
            .as_ref()
            .filter(|p| !p.text.is_empty())
            .map(|p| (p.mime_type.clone(), p.text.clone()));
        let content = &entry.response.content;
        let response_json = content
            .text
            .as_ref()
            .filter(|_| content.mime_type.contains("json") && content.encoding.is_none())
            .and_then(|t| serde_json::from_str(t).ok());
        drafts.push(Draft {
            method: entry.request.method.to_ascii_uppercase(),
            path,
            headers,
            body,
            status: entry.response.status,
            response_json,
            captures: BTreeMap::new(),
            think_ms,
        });
    }
    if drafts.is_empty() {
        return Err(HarError::Empty {
            skipped: skipped_static + skipped_origin.values().sum::<usize>(),
            why: "every request was a static asset or on another origin".into(),
        });
    }
    correlate(&mut drafts);
    let withheld = secrets::withhold(&mut drafts);
    let text = render(
        &drafts,
        target.as_deref().unwrap_or(&recorded_origin),
        options,
        (skipped_static, &skipped_origin),
        &withheld,
    );
    Ok(Imported { text, withheld })
}

/// Milliseconds since the epoch of an ISO 8601 timestamp (`2026-11-24T10:00:00.123Z`, with `Z`
/// or `+00:00`).
fn timestamp_ms(text: &str) -> Option<f64> {
    let text = text
        .strip_suffix("+00:00")
        .map_or_else(|| text.to_string(), |t| format!("{t}Z"));
    let at = humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()?;
    Some(
        at.duration_since(SystemTime::UNIX_EPOCH)
            .ok()?
            .as_secs_f64()
            * 1000.0,
    )
}

/// Values the server handed out (strings in JSON responses, 8+ characters, that no earlier
/// request contained) and that a later request sends back: each becomes a capture on the step
/// that received it, and a template where it is sent.
fn correlate(drafts: &mut [Draft]) {
    let mut used_names: Vec<String> = Vec::new();
    for i in 0..drafts.len() {
        let mut found: Vec<(String, String)> = Vec::new();
        if let Some(json) = &drafts[i].response_json {
            collect_strings(json, String::new(), &mut found);
        }
        // Longest first, so a value is never replaced inside a longer one.
        found.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        for (pointer, value) in found {
            let sends = |d: &Draft| {
                d.path.contains(&value)
                    || d.path.contains(&encode_path_value(&value))
                    || d.headers.iter().any(|(_, v)| v.contains(&value))
                    || d.body.as_ref().is_some_and(|(_, b)| b.contains(&value))
            };
            // A value the client sent before the server echoed it (a login email, a product
            // the user chose) is the user's input, not something the server handed out.
            if drafts[..=i].iter().any(sends) || !drafts[i + 1..].iter().any(sends) {
                continue;
            }
            let base = pointer
                .rsplit('/')
                .find(|s| !s.is_empty() && s.parse::<usize>().is_err())
                .unwrap_or("value")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>();
            let mut name = base.clone();
            let mut n = 2;
            while used_names.contains(&name) {
                name = format!("{base}{n}");
                n += 1;
            }
            used_names.push(name.clone());
            let template = format!("{{{{{name}}}}}");
            drafts[i]
                .captures
                .insert(name.clone(), format!("json:{pointer}"));
            for later in &mut drafts[i + 1..] {
                later.path = later
                    .path
                    .replace(&encode_path_value(&value), &template)
                    .replace(&value, &template);
                for (_, v) in &mut later.headers {
                    *v = v.replace(&value, &template);
                }
                if let Some((_, b)) = &mut later.body {
                    *b = b.replace(&value, &template);
                }
            }
        }
    }
}

/// How a browser's `encodeURIComponent` writes a value in a path.
fn encode_path_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, URI_COMPONENT).to_string()
}

const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn collect_strings(value: &serde_json::Value, pointer: String, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::String(s) if s.len() >= 8 => out.push((pointer, s.clone())),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_strings(item, format!("{pointer}/{i}"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                collect_strings(v, format!("{pointer}/{key}"), out);
            }
        }
        _ => {}
    }
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn render(
    drafts: &[Draft],
    target: &str,
    options: &HarOptions,
    (skipped_static, skipped_origin): (usize, &BTreeMap<String, usize>),
    withheld: &[Withheld],
) -> String {
    let mut out = String::new();
    let name = options.name.as_deref().unwrap_or("imported recording");
    let _ = writeln!(
        out,
        "# Imported from a browser recording by `loadcast plan import-har`: {} requests kept,",
        drafts.len()
    );
    let _ = writeln!(
        out,
        "# {skipped_static} static assets skipped{}.",
        if skipped_origin.is_empty() {
            String::new()
        } else {
            format!(
                ", {} on other origins skipped ({})",
                skipped_origin.values().sum::<usize>(),
                skipped_origin
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    if !withheld.is_empty() {
        let _ = writeln!(
            out,
            "# The recording's secrets are not copied here; set these before the run:"
        );
        for w in withheld {
            let _ = writeln!(out, "#   {} ({} when recorded)", w.variable, w.what);
        }
    }
    let _ = writeln!(
        out,
        "# Review before use: the recorded user's credentials are the same for every virtual user\n\
         # until they come from a feeder ([feeders.user] csv = \"users.csv\", then {{{{user.email}}}})."
    );
    let _ = writeln!(out, "name = {}", quote(name));
    let _ = writeln!(out, "target = {}\n", quote(target));
    let _ = writeln!(out, "[slo]\nerrors = \"1%\"\n");
    let _ = writeln!(out, "[[scenario]]\nname = \"recording\"");
    for d in drafts {
        if d.think_ms > 0 {
            let _ = writeln!(
                out,
                "\n[[scenario.step]]\nthink = \"{}ms\"",
                d.think_ms.min(60_000)
            );
        }
        let _ = writeln!(out, "\n[[scenario.step]]");
        let method = d.method.to_ascii_lowercase();
        if ["get", "post", "put", "patch", "delete", "head", "options"].contains(&method.as_str()) {
            let _ = writeln!(out, "{method} = {}", quote(&d.path));
        } else {
            let _ = writeln!(
                out,
                "method = {}\nurl = {}",
                quote(&d.method),
                quote(&d.path)
            );
        }
        let mut headers = d.headers.clone();
        if let Some((mime, text)) = &d.body {
            let json = mime
                .contains("json")
                .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
                .flatten()
                .and_then(|v| toml::Value::try_from(v).ok());
            match json {
                Some(value) => {
                    headers.retain(|(n, _)| n != "content-type");
                    let _ = writeln!(out, "json = {value}");
                }
                None => {
                    if !mime.is_empty() && !headers.iter().any(|(n, _)| n == "content-type") {
                        headers.push(("content-type".into(), mime.clone()));
                    }
                    let _ = writeln!(out, "body = {}", quote(text));
                }
            }
        }
        if !headers.is_empty() {
            let pairs: Vec<String> = headers
                .iter()
                .map(|(n, v)| format!("{} = {}", quote(n), quote(v)))
                .collect();
            let _ = writeln!(out, "headers = {{ {} }}", pairs.join(", "));
        }
        if !d.captures.is_empty() {
            let pairs: Vec<String> = d
                .captures
                .iter()
                .map(|(n, v)| format!("{n} = {}", quote(v)))
                .collect();
            let _ = writeln!(out, "capture = {{ {} }}", pairs.join(", "));
        }
        let _ = writeln!(out, "check = {{ status = {} }}", d.status);
    }
    let _ = writeln!(
        out,
        "\n[load]                     # a gentle start: raise users and duration once it runs green\n\
         model = \"closed\"\nusers = 5\nduration = \"30s\""
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HAR: &str = r#"{"log":{"version":"1.2","entries":[
      {"startedDateTime":"2026-11-24T10:00:00.000Z","time":5,
       "request":{"method":"GET","url":"http://127.0.0.1:8080/","headers":[{"name":"Accept","value":"text/html"},{"name":"Cookie","value":"x=1"}]},
       "response":{"status":200,"content":{"mimeType":"text/html","text":"<html>"}}},
      {"startedDateTime":"2026-11-24T10:00:00.010Z","time":2,
       "request":{"method":"GET","url":"http://127.0.0.1:8080/static/app.js","headers":[]},
       "response":{"status":200,"content":{"mimeType":"application/javascript"}}},
      {"startedDateTime":"2026-11-24T10:00:00.020Z","time":2,
       "request":{"method":"GET","url":"https://cdn.example.com/font","headers":[]},
       "response":{"status":200,"content":{"mimeType":"text/plain"}}},
      {"startedDateTime":"2026-11-24T10:00:02.000Z","time":8,
       "request":{"method":"POST","url":"http://127.0.0.1:8080/api/login","headers":[{"name":"Content-Type","value":"application/json"},{"name":"Content-Length","value":"40"}],
                  "postData":{"mimeType":"application/json","text":"{\"email\":\"a@b.io\",\"password\":\"pw\"}"}},
       "response":{"status":200,"content":{"mimeType":"application/json","text":"{\"token\":\"abcdef0123456789\",\"email\":\"a@b.io\"}"}}},
      {"startedDateTime":"2026-11-24T10:00:02.100Z","time":3,
       "request":{"method":"GET","url":"http://127.0.0.1:8080/api/orders?t=abcdef0123456789","headers":[{"name":"Authorization","value":"Bearer abcdef0123456789"}]},
       "response":{"status":200,"content":{"mimeType":"application/json","text":"[]"}}}
    ]}}"#;

    #[test]
    fn skips_assets_correlates_tokens_and_keeps_pauses() {
        let imported = import(HAR, &HarOptions::default()).unwrap();
        let plan = &imported.text;
        assert!(
            plan.contains("target = \"http://127.0.0.1:8080\""),
            "{plan}"
        );
        assert!(!plan.contains("app.js"), "{plan}");
        assert!(
            plan.contains("1 static assets skipped, 1 on other origins skipped"),
            "{plan}"
        );
        assert!(
            plan.contains("capture = { token = \"json:/token\" }"),
            "{plan}"
        );
        assert!(plan.contains("get = \"/api/orders?t={{token}}\""), "{plan}");
        assert!(
            plan.contains("authorization\" = \"Bearer {{token}}\""),
            "{plan}"
        );
        assert!(plan.contains("think = \"1995ms\""), "{plan}");
        assert!(!plan.to_ascii_lowercase().contains("cookie ="), "{plan}");
        assert!(!plan.contains("content-length"), "{plan}");
        // The login's password is withheld; the token the server handed out is a capture.
        assert!(!plan.contains("\"pw\""), "{plan}");
        assert!(
            plan.contains("password = \"${env:HAR_PASSWORD}\""),
            "{plan}"
        );
        assert_eq!(
            imported.withheld,
            vec![Withheld {
                variable: "HAR_PASSWORD".into(),
                what: "the password field".into()
            }]
        );
        let parsed =
            crate::parse(&imported.text_for_validation(), "imported.toml".as_ref()).unwrap();
        assert_eq!(parsed.scenarios[0].steps.len(), 4);
        let codes: Vec<_> = parsed.lints().iter().map(|l| l.code).collect();
        assert!(codes.contains(&"single-identity"), "{codes:?}");
    }

    #[test]
    fn recorded_tokens_keys_and_passwords_never_reach_the_plan() {
        let har = r#"{"log":{"entries":[
          {"startedDateTime":"2026-11-24T10:00:00.000Z","time":5,
           "request":{"method":"POST","url":"http://127.0.0.1:8080/session","headers":[{"name":"Authorization","value":"Basic c2VjcmV0LWJhc2ljLWNyZWRz"}],
                      "postData":{"mimeType":"application/x-www-form-urlencoded","text":"user=ann&passwd=hunter2%21x&remember=1"}},
           "response":{"status":204,"content":{"mimeType":"text/plain"}}},
          {"startedDateTime":"2026-11-24T10:00:00.100Z","time":5,
           "request":{"method":"GET","url":"http://127.0.0.1:8080/api/items?page=2&api_key=K3Y-recorded-1","headers":[{"name":"Authorization","value":"Bearer static-recorded-token-77"},{"name":"X-Api-Key","value":"K3Y-recorded-1"}]},
           "response":{"status":200,"content":{"mimeType":"application/json","text":"[]"}}},
          {"startedDateTime":"2026-11-24T10:00:00.200Z","time":5,
           "request":{"method":"PUT","url":"http://127.0.0.1:8080/api/me","headers":[{"name":"Content-Type","value":"application/json"}],
                      "postData":{"mimeType":"application/json","text":"{\"profile\":{\"name\":\"Ann\",\"new_password\":\"s3cr3t-new\"}}"}},
           "response":{"status":200,"content":{"mimeType":"application/json","text":"{}"}}}
        ]}}"#;
        let imported = import(har, &HarOptions::default()).unwrap();
        let plan = &imported.text;
        for secret in [
            "c2VjcmV0LWJhc2ljLWNyZWRz",
            "hunter2",
            "K3Y-recorded-1",
            "static-recorded-token-77",
            "s3cr3t-new",
        ] {
            assert!(!plan.contains(secret), "{secret} in\n{plan}");
        }
        let variables: Vec<&str> = imported
            .withheld
            .iter()
            .map(|w| w.variable.as_str())
            .collect();
        // One variable per distinct value: the key in the query and in its header is one.
        assert_eq!(
            variables,
            [
                "HAR_AUTHORIZATION",
                "HAR_PASSWD",
                "HAR_AUTHORIZATION_2",
                "HAR_X_API_KEY",
                "HAR_NEW_PASSWORD"
            ],
            "{plan}"
        );
        assert!(
            plan.contains("passwd=${env:HAR_PASSWD}&remember=1"),
            "{plan}"
        );
        assert!(
            plan.contains("page=2&api_key=${env:HAR_X_API_KEY}"),
            "{plan}"
        );
        assert!(
            plan.contains("\"x-api-key\" = \"${env:HAR_X_API_KEY}\""),
            "{plan}"
        );
        assert!(
            plan.contains("#   HAR_PASSWD (the passwd form field when recorded)"),
            "{plan}"
        );
        // A plan that validates once the variables are set: here, with placeholders.
        crate::parse(&imported.text_for_validation(), "imported.toml".as_ref()).unwrap();
    }

    #[test]
    fn retargets_and_reports_bad_input() {
        let plan = import(
            HAR,
            &HarOptions {
                target: Some("http://127.0.0.1:9999/".into()),
                ..HarOptions::default()
            },
        )
        .unwrap()
        .text;
        assert!(
            plan.contains("target = \"http://127.0.0.1:9999\""),
            "{plan}"
        );
        let e = import("{\"log\": 1}", &HarOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("line 1, column"), "{e}");
        let e = import(r#"{"log":{"entries":[]}}"#, &HarOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no request to import"), "{e}");
    }
}
