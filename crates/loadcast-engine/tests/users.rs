//! Many users, not one: virtual users with their own rows, sessions, captured tokens and cookies,
//! against a real application on loopback that checks every request's owner itself.

use std::path::PathBuf;
use std::sync::Mutex;

use loadcast_engine::{Cancel, RunOptions, run};
use loadcast_plan::{Plan, load};
use loadcast_stats::{ErrorKind, RunResult};
use loadcast_testkit::SessionApp;

/// Runs take turns: two load tests at once on two cores measure each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadcast-users-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A plan in its own directory, next to a `users.csv` with `rows` users of the app.
fn plan(name: &str, rows: usize, text: &str) -> Plan {
    let dir = workdir(name);
    std::fs::write(dir.join("users.csv"), SessionApp::users_csv(rows)).unwrap();
    let path = dir.join("plan.toml");
    std::fs::write(&path, text).unwrap();
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn go(plan: &Plan) -> RunResult {
    run(plan, &RunOptions::default(), &Cancel::new(), &mut ()).unwrap()
}

/// Log in with the user's own row, then use the session cookie, the captured token and a
/// per-user resource; every response is checked to belong to the user.
fn shop_scenario(target: &str, extra: &str) -> String {
    format!(
        r#"
target = "{target}"
{extra}

[feeders.user]
csv = "users.csv"
strategy = "unique"

[[scenario]]
name = "shop"

[[scenario.step]]
name = "login"
post = "/api/login"
json = {{ email = "{{{{user.email}}}}", password = "{{{{user.password}}}}" }}
capture = {{ token = "json:/token" }}
check = {{ status = 200, json = {{ "/email" = "{{{{user.email}}}}" }} }}

[[scenario.step]]
name = "me"
get = "/api/me"
check = {{ status = 200, json = {{ "$.email" = "{{{{user.email}}}}" }} }}

[[scenario.step]]
name = "orders"
get = "/api/users/{{{{user.email}}}}/orders"
headers = {{ authorization = "Bearer {{{{token}}}}" }}
check = {{ status = 200, json = {{ "/email" = "{{{{user.email}}}}" }} }}

[[scenario.step]]
name = "add to cart"
post = "/api/cart"
json = {{ sku = "sku-{{{{rand(1, 500)}}}}" }}
check = {{ status = 200 }}

[[scenario.step]]
think = "50ms..200ms"
"#
    )
}

#[test]
fn two_hundred_users_each_log_in_as_themselves_and_never_share_a_session() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = SessionApp::start(200);
    let p = plan(
        "two-hundred",
        200,
        &shop_scenario(
            &app.url(),
            "[load]\nmodel = \"closed\"\nusers = 200\nduration = \"4s\"",
        ),
    );
    assert!(
        p.lints().iter().all(|l| l.code != "single-identity"),
        "{:?}",
        p.lints()
    );
    let result = go(&p);
    let state = &app.state;
    let total = result.total();
    assert_eq!(result.generator.max_vus, 200);
    assert_eq!(
        total.error_count(),
        0,
        "errors: {:?} by request {:?}",
        total.errors,
        result
            .requests
            .iter()
            .map(|r| (&r.name, &r.errors))
            .collect::<Vec<_>>()
    );
    // Every one of the 200 users logged in with its own row, at least once.
    assert_eq!(state.users_logged_in(), 200);
    let logins = result.request("login").unwrap().ok;
    assert!(logins >= 200, "{logins} logins");
    assert_eq!(state.logins(), logins);
    // A new session per login, and the server saw no request for another user's resources and
    // no session presented by two users.
    assert_eq!(state.sessions() as u64, logins);
    assert_eq!(state.violations(), 0);
    assert_eq!(state.shared_sessions(), 0);
    assert_eq!(
        state
            .unauthenticated
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    // The session-scoped step (cookie) and the token step (capture) ran as often as logins.
    assert_eq!(result.request("me").unwrap().ok, logins);
    assert_eq!(result.request("orders").unwrap().ok, logins);
}

#[test]
fn the_server_catches_users_sharing_one_identity() {
    // The control: every user logs in as user0 but asks for its own orders. The app must see
    // it; otherwise the test above would prove nothing.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = SessionApp::start(20);
    let text = shop_scenario(
        &app.url(),
        "[load]\nmodel = \"closed\"\nusers = 20\nduration = \"2s\"",
    )
    .replace(
        r#"json = { email = "{{user.email}}", password = "{{user.password}}" }"#,
        r#"json = { email = "user0@example.com", password = "pw-0" }"#,
    )
    .replace(
        r#"check = { status = 200, json = { "/email" = "{{user.email}}" } }
"#,
        "\n",
    );
    let p = plan("one-identity", 20, &text);
    let result = go(&p);
    assert_eq!(app.state.users_logged_in(), 1);
    assert!(app.state.violations() > 0);
    let orders = result.request("orders").unwrap();
    assert!(
        orders
            .errors
            .get(&ErrorKind::Status(403))
            .copied()
            .unwrap_or(0)
            > 0
    );
    // The check on /api/me (the session is user0's, not the row's user) fails for 19 of 20.
    let me = result.request("me").unwrap();
    assert!(me.errors.get(&ErrorKind::Check).copied().unwrap_or(0) > 0);
}

#[test]
fn a_captured_token_flows_to_the_next_step_per_user() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = SessionApp::start(30);
    // No cookies: the only credential the orders step has is the captured token.
    let text = format!(
        r#"
target = "{}"
[http]
cookies = false
[feeders.user]
csv = "users.csv"
[[scenario]]
[[scenario.step]]
name = "login"
post = "/api/login"
json = {{ email = "{{{{user.email}}}}", password = "{{{{user.password}}}}" }}
capture = {{ token = "json:/token", who = "regex:\"email\":\"([^\"]+)\"" }}
[[scenario.step]]
name = "orders"
get = "/api/users/{{{{who}}}}/orders"
headers = {{ authorization = "Bearer {{{{token}}}}" }}
check = {{ status = 200, json = {{ "/email" = "{{{{user.email}}}}" }} }}
[[scenario.step]]
name = "me without a cookie"
get = "/api/me"
check = {{ status = 401 }}
[load]
model = "closed"
users = 30
duration = "2s"
"#,
        app.url()
    );
    let p = plan("captures", 30, &text);
    let result = go(&p);
    let orders = result.request("orders").unwrap();
    assert!(orders.count >= 30);
    assert_eq!(orders.ok, orders.count, "{:?}", orders.errors);
    assert_eq!(app.state.violations(), 0);
    assert_eq!(app.state.users_logged_in(), 30);
    // Without a cookie jar the session endpoint refuses, and the plan expected exactly that.
    let me = result.request("me without a cookie").unwrap();
    assert_eq!(me.ok, me.count);

    // A capture that finds nothing stops the iteration: the step that needs it is never sent
    // with an empty token, and the failure is counted as a check.
    let broken = text.replace("json:/token", "json:/no-such-field");
    let p = plan("captures-broken", 30, &broken);
    let requests_before = app.state.requests.load(std::sync::atomic::Ordering::SeqCst);
    let result = go(&p);
    let login = result.request("login").unwrap();
    assert_eq!(
        login.errors.get(&ErrorKind::Check).copied(),
        Some(login.count)
    );
    assert!(result.request("orders").is_none_or(|o| o.count == 0));
    let sent = app.state.requests.load(std::sync::atomic::Ordering::SeqCst) - requests_before;
    assert_eq!(sent, login.count);
}

#[test]
fn a_sequential_feeder_uses_each_row_once_then_stops() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = SessionApp::start(100);
    let text = format!(
        r#"
target = "{}"
[feeders.coupon]
csv = "users.csv"
strategy = "sequential"
[[scenario]]
[[scenario.step]]
name = "login"
post = "/api/login"
json = {{ email = "{{{{coupon.email}}}}", password = "{{{{coupon.password}}}}" }}
check = {{ status = 200 }}
[load]
model = "closed"
users = 8
duration = "3s"
"#,
        app.url()
    );
    let p = plan("sequential", 37, &text);
    let result = go(&p);
    assert_eq!(result.request("login").unwrap().ok, 37);
    assert_eq!(app.state.logins(), 37);
    assert_eq!(app.state.users_logged_in(), 37);
    assert!(result.generator.feeder_exhausted >= 1);
}

#[test]
fn users_sharing_a_connection_pool_keep_their_own_sessions() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = SessionApp::start(60);
    let p = plan(
        "shared-pool",
        60,
        &shop_scenario(
            &app.url(),
            "[http]\nconnections = \"shared\"\n[load]\nmodel = \"closed\"\nusers = 60\nduration = \"2s\"",
        ),
    );
    let result = go(&p);
    assert_eq!(
        result.total().error_count(),
        0,
        "{:?}",
        result.total().errors
    );
    assert_eq!(app.state.violations(), 0);
    assert_eq!(app.state.shared_sessions(), 0);
    assert_eq!(app.state.users_logged_in(), 60);
    // Users think between iterations, so a pool needs fewer connections than users.
    assert!(result.generator.connections_opened <= 60);
}

/// The open model: every arrival is a new user with its own row, cookie jar and captures (the
/// connections it reuses carry no identity). 200 arrivals with 300 unique rows are 200 distinct
/// logins at the server; with 150 rows, 150 log in and 50 arrivals are counted as finding no
/// identity, never run as somebody else.
#[test]
fn every_open_model_arrival_is_a_new_user() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (rows, expect_users) in [(300usize, 200u64), (150, 150)] {
        let app = SessionApp::start(300);
        let p = plan(
            &format!("open-{rows}"),
            rows,
            &shop_scenario(
                &app.url(),
                "[load]\nmodel = \"open\"\nrate = \"40/s\"\nduration = \"5s\"\nmax_in_flight = 300",
            ),
        );
        let result = go(&p);
        let g = &result.generator;
        let logins = result.request("login").map_or(0, |r| r.ok);
        eprintln!(
            "{rows} rows: {} started, {} users, {} identities, {} exhausted, {} dropped; server saw {} users in {} logins, {} violations",
            g.started,
            g.users,
            g.identities,
            g.feeder_exhausted,
            g.dropped,
            app.state.users_logged_in(),
            app.state.logins(),
            app.state.violations()
        );
        // 40/s for 5 s: 200 arrivals, each its own user.
        assert_eq!(
            g.started + g.feeder_exhausted + g.dropped,
            200,
            "{rows} rows: {g:?}"
        );
        assert_eq!(g.dropped, 0, "{rows} rows: {g:?}");
        assert_eq!(g.users, expect_users, "{rows} rows: {g:?}");
        assert_eq!(g.identities, expect_users, "{rows} rows: {g:?}");
        assert_eq!(g.feeder_exhausted, 200 - expect_users, "{rows} rows: {g:?}");
        assert_eq!(
            app.state.users_logged_in() as u64,
            expect_users,
            "the server counts distinct users"
        );
        assert_eq!(logins, expect_users, "one login per arrival");
        assert_eq!(app.state.shared_sessions(), 0);
        assert_eq!(app.state.violations(), 0);
    }
}
