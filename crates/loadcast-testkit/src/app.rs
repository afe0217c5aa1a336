//! [`SessionApp`]: a small web application with real sessions, for testing that virtual users
//! behave as distinct users. The server itself checks that every request is served to the user
//! who owns the session or token it carries, and counts every violation.
//!
//! Users are `user{i}@example.com` with password `pw-{i}`, for `i` below the number the app was
//! started with ([`SessionApp::users_csv`] writes the matching feeder file).
//!
//! | route | what it does |
//! | --- | --- |
//! | `POST /api/login` `{email, password}` | `{"token", "email"}` and a `sid` session cookie; 401 on bad credentials |
//! | `GET /api/me` (cookie) | `{"email"}` of the session's user |
//! | `GET /api/users/{email}/orders` (bearer token) | that user's orders; 403 and a counted violation when the token (or the session cookie) belongs to someone else |
//! | `POST /api/cart` `{sku}` (cookie) | adds to the session's cart: `{"items": n}` |
//! | `GET /api/cart` (cookie) | `{"email", "items": [...]}` |
//! | `GET /` | an HTML page whose script logs in and uses the API (for recording a HAR in a browser) |
//! | `GET /static/…` | the page's stylesheet, script and logo |

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::{Reply, Serving, serve};

/// What the app saw, for tests to assert on.
#[derive(Debug, Default)]
pub struct AppState {
    users: usize,
    sessions: Mutex<BTreeMap<String, Session>>,
    tokens: Mutex<BTreeMap<String, String>>,
    /// Successful logins per email.
    logins: Mutex<BTreeMap<String, u64>>,
    /// Requests answered for a user other than the one the credentials belong to, or with a
    /// session that more than one user presented.
    pub violations: AtomicU64,
    /// Requests with no or unknown credentials.
    pub unauthenticated: AtomicU64,
    pub requests: AtomicU64,
}

#[derive(Debug, Default)]
struct Session {
    email: String,
    cart: Vec<String>,
    /// Every user (by the email in the path) that presented this session.
    presented_by: BTreeSet<String>,
}

impl AppState {
    /// Distinct users that logged in successfully.
    pub fn users_logged_in(&self) -> usize {
        self.logins.lock().unwrap().len()
    }

    pub fn logins(&self) -> u64 {
        self.logins.lock().unwrap().values().sum()
    }

    pub fn sessions(&self) -> usize {
        self.sessions.lock().unwrap().len()
    }

    /// Sessions that were presented for more than one user's resources.
    pub fn shared_sessions(&self) -> usize {
        self.sessions
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.presented_by.len() > 1)
            .count()
    }

    pub fn violations(&self) -> u64 {
        self.violations.load(Ordering::SeqCst)
    }
}

/// The running app; stopped when dropped.
#[derive(Debug)]
pub struct SessionApp {
    pub state: Arc<AppState>,
    server: Serving,
}

impl SessionApp {
    pub fn start(users: usize) -> Self {
        let state = Arc::new(AppState {
            users,
            ..AppState::default()
        });
        let handler_state = state.clone();
        let server = serve(None, move |req| route(handler_state.clone(), req));
        Self { state, server }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr
    }

    /// The feeder file for the first `rows` users: `email,password`.
    pub fn users_csv(rows: usize) -> String {
        let mut csv = String::from("email,password\n");
        for i in 0..rows {
            csv.push_str(&format!("user{i}@example.com,pw-{i}\n"));
        }
        csv
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Reply {
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap())
}

fn cookie(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

fn bearer(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

fn random_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

async fn route(state: Arc<AppState>, req: Request<Incoming>) -> Reply {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::POST, "/api/login") => login(&state, req).await,
        (Method::GET, "/api/me") => match session_email(&state, &req) {
            Some(email) => json(StatusCode::OK, serde_json::json!({ "email": email })),
            None => unauthenticated(&state),
        },
        (Method::GET, p) if p.starts_with("/api/users/") && p.ends_with("/orders") => {
            let owner = p["/api/users/".len()..p.len() - "/orders".len()].to_string();
            orders(&state, &req, &owner)
        }
        (Method::POST, "/api/cart") => {
            let Some(sid) = cookie(&req, "sid") else {
                return unauthenticated(&state);
            };
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let sku = body
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("sku").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_default();
            let mut sessions = state.sessions.lock().unwrap();
            match sessions.get_mut(&sid) {
                Some(session) => {
                    session.cart.push(sku);
                    let n = session.cart.len();
                    json(StatusCode::OK, serde_json::json!({ "items": n }))
                }
                None => {
                    drop(sessions);
                    unauthenticated(&state)
                }
            }
        }
        (Method::GET, "/api/cart") => {
            let sid = cookie(&req, "sid").unwrap_or_default();
            let sessions = state.sessions.lock().unwrap();
            match sessions.get(&sid) {
                Some(s) => json(
                    StatusCode::OK,
                    serde_json::json!({ "email": s.email, "items": s.cart }),
                ),
                None => {
                    drop(sessions);
                    unauthenticated(&state)
                }
            }
        }
        (Method::GET, "/") => asset("text/html; charset=utf-8", PAGE),
        (Method::GET, "/static/app.css") => asset("text/css", "body { font-family: sans-serif }"),
        (Method::GET, "/static/app.js") => asset("application/javascript", SCRIPT),
        (Method::GET, "/static/logo.png") => Ok(Response::builder()
            .header(header::CONTENT_TYPE, "image/png")
            .body(Full::new(Bytes::from_static(LOGO_PNG)))
            .unwrap()),
        (Method::GET, "/favicon.ico") => Ok(Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new()))
            .unwrap()),
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": "no such route" }),
        ),
    }
}

fn asset(content_type: &str, body: &'static str) -> Reply {
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap())
}

fn unauthenticated(state: &AppState) -> Reply {
    state.unauthenticated.fetch_add(1, Ordering::SeqCst);
    json(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({ "error": "log in first" }),
    )
}

fn session_email(state: &AppState, req: &Request<Incoming>) -> Option<String> {
    let sid = cookie(req, "sid")?;
    state
        .sessions
        .lock()
        .unwrap()
        .get(&sid)
        .map(|s| s.email.clone())
}

async fn login(state: &AppState, req: Request<Incoming>) -> Reply {
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let credentials = body
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let field = |name: &str| {
        credentials
            .as_ref()
            .and_then(|c| c.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let (Some(email), Some(password)) = (field("email"), field("password")) else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": "email and password" }),
        );
    };
    let known = email
        .strip_prefix("user")
        .and_then(|rest| rest.strip_suffix("@example.com"))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n < state.users && password == format!("pw-{n}"));
    if known.is_none() {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({ "error": "bad credentials" }),
        );
    }
    let (sid, token) = (random_id(), random_id());
    state.sessions.lock().unwrap().insert(
        sid.clone(),
        Session {
            email: email.clone(),
            ..Session::default()
        },
    );
    state
        .tokens
        .lock()
        .unwrap()
        .insert(token.clone(), email.clone());
    *state
        .logins
        .lock()
        .unwrap()
        .entry(email.clone())
        .or_default() += 1;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::SET_COOKIE,
            format!("sid={sid}; Path=/; HttpOnly; SameSite=Lax"),
        )
        .body(Full::new(Bytes::from(
            serde_json::json!({ "token": token, "email": email }).to_string(),
        )))
        .unwrap())
}

/// A user's own resource: the bearer token must belong to the owner in the path, and so must
/// the session cookie when one is sent. Anything else is a violation, counted and refused.
fn orders(state: &AppState, req: &Request<Incoming>, owner: &str) -> Reply {
    let owner = percent_encoding::percent_decode_str(owner)
        .decode_utf8_lossy()
        .into_owned();
    let Some(token_user) = bearer(req).and_then(|t| state.tokens.lock().unwrap().get(&t).cloned())
    else {
        return unauthenticated(state);
    };
    let mut ok = token_user == owner;
    if let Some(sid) = cookie(req, "sid") {
        if let Some(session) = state.sessions.lock().unwrap().get_mut(&sid) {
            session.presented_by.insert(owner.clone());
            ok &= session.email == owner && session.presented_by.len() == 1;
        }
    }
    if !ok {
        state.violations.fetch_add(1, Ordering::SeqCst);
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({ "error": "not your orders" }),
        );
    }
    let seed = owner
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let orders: Vec<serde_json::Value> = (0..3)
        .map(|i| serde_json::json!({ "id": seed % 100_000 + i, "total": (seed % 97) as f64 + 0.5 }))
        .collect();
    json(
        StatusCode::OK,
        serde_json::json!({ "email": owner, "orders": orders }),
    )
}

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><img src="/static/logo.png" alt="logo"><h1>shop</h1><pre id="log"></pre>
<script src="/static/app.js"></script></body></html>
"#;

/// What a user does in the browser: log in, look at their account, orders and cart.
const SCRIPT: &str = r#"
async function main() {
  const log = (line) => { document.getElementById('log').textContent += line + '\n'; };
  const login = await fetch('/api/login', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'user3@example.com', password: 'pw-3' }) });
  const { token, email } = await login.json();
  log('logged in as ' + email);
  const me = await (await fetch('/api/me')).json();
  log('me: ' + me.email);
  const orders = await fetch('/api/users/' + encodeURIComponent(email) + '/orders',
    { headers: { authorization: 'Bearer ' + token } });
  log('orders: ' + orders.status);
  await fetch('/api/cart', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sku: 'sku-42' }) });
  const cart = await (await fetch('/api/cart')).json();
  log('cart: ' + cart.items.length);
  document.title = 'done';
}
main();
"#;

/// A 1×1 transparent PNG.
const LOGO_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
