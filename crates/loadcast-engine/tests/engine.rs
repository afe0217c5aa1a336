//! The engine against real servers on loopback: exact counts, status and error taxonomy,
//! HTTP/2, TLS, open-model accuracy and coordinated omission.

use std::sync::Mutex;
use std::time::Duration;

use loadcast_engine::{Cancel, EngineError, RunOptions, run};
use loadcast_plan::{Plan, parse};
use loadcast_stats::{ErrorKind, RunResult, RunStatus};
use loadcast_testkit::TestServer;

/// Timing-sensitive runs take turns: two load tests at once on two cores measure each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn plan(target: &str, body: &str) -> Plan {
    let text = format!("target = \"{target}\"\n{body}");
    parse(&text, "test.toml".as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

fn go(plan: &Plan) -> RunResult {
    run(plan, &RunOptions::default(), &Cancel::new(), &mut ()).unwrap()
}

const OPEN_200_FOR_2S: &str = r#"
[load]
model = "open"
rate = "200/s"
duration = "2s"
"#;

#[test]
fn open_model_sends_exactly_the_schedule_and_counts_statuses() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let p = plan(
        &server.url(),
        &format!(
            r#"
[[scenario]]
[[scenario.step]]
get = "/ok"
[[scenario.step]]
name = "missing"
get = "/status/404"
[[scenario.step]]
name = "broken"
get = "/status/503"
{OPEN_200_FOR_2S}"#
        ),
    );
    let result = go(&p);
    assert_eq!(result.meta.status, RunStatus::Complete);
    assert_eq!(result.generator.scheduled, 400);
    assert_eq!(result.generator.started, 400);
    assert_eq!(result.generator.dropped, 0);
    assert_eq!(server.counters.requests(), 1200);
    assert_eq!(server.counters.path("/ok"), 400);
    let ok = result.request("GET /ok").unwrap();
    assert_eq!(
        (ok.count, ok.ok, ok.status.get(&200).copied()),
        (400, 400, Some(400))
    );
    let missing = result.request("missing").unwrap();
    assert_eq!(missing.status.get(&404).copied(), Some(400));
    assert_eq!(
        missing.errors.get(&ErrorKind::Status(404)).copied(),
        Some(400)
    );
    let broken = result.request("broken").unwrap();
    assert_eq!(
        broken.errors.get(&ErrorKind::Status(503)).copied(),
        Some(400)
    );
    assert_eq!(result.total().count, 1200);
    assert_eq!(
        result.timeline.iter().map(|s| s.completed).sum::<u64>(),
        1200
    );
    assert_eq!(ok.latency.count(), 400);
    // The schedule second by second: 200 arrivals in each of the two seconds, none after.
    let scheduled: Vec<u64> = result.timeline.iter().map(|s| s.scheduled).collect();
    assert_eq!(scheduled.iter().sum::<u64>(), 400, "{scheduled:?}");
    assert_eq!(scheduled[..2], [200, 200], "{scheduled:?}");
    // Each user reuses its connection: far fewer connections than requests.
    assert!(server.connections() < 100);
}

#[test]
fn http2_with_prior_knowledge() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let p = plan(
        &server.url(),
        &format!(
            "[http]\nversion = \"2\"\n[[scenario]]\n[[scenario.step]]\nget = \"/version\"\n{OPEN_200_FOR_2S}"
        ),
    );
    let result = go(&p);
    assert_eq!(result.total().ok, 400);
    assert_eq!(
        server
            .counters
            .http2
            .load(std::sync::atomic::Ordering::SeqCst),
        400
    );
}

#[test]
fn tls_with_a_trusted_test_certificate_negotiates_h2() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start_tls();
    let dir = tempdir("tls");
    server.write_certificate(&dir.join("ca.pem"));
    let text = format!(
        "target = \"{}\"\n[http]\nca = \"ca.pem\"\n[[scenario]]\n[[scenario.step]]\nget = \"/version\"\n{OPEN_200_FOR_2S}",
        server.url()
    );
    let p = parse(&text, &dir.join("plan.toml")).unwrap();
    let result = go(&p);
    assert_eq!(result.total().ok, 400, "{:?}", result.total().errors);
    assert_eq!(
        server
            .counters
            .http2
            .load(std::sync::atomic::Ordering::SeqCst),
        400
    );

    // Forcing HTTP/1.1 over the same TLS server.
    let text = text.replace("[http]\n", "[http]\nversion = \"1.1\"\n");
    let p = parse(&text, &dir.join("plan.toml")).unwrap();
    let result = go(&p);
    assert_eq!(result.total().ok, 400);
    assert_eq!(
        server
            .counters
            .http2
            .load(std::sync::atomic::Ordering::SeqCst),
        400,
        "no new h2 requests"
    );
    assert_eq!(server.counters.requests(), 800);
}

#[test]
fn an_untrusted_certificate_is_a_clear_error_and_insecure_accepts_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start_tls();
    let body = format!("[[scenario]]\n[[scenario.step]]\nget = \"/\"\n{OPEN_200_FOR_2S}");
    let p = plan(&server.url(), &body);
    let err = run(&p, &RunOptions::default(), &Cancel::new(), &mut ()).unwrap_err();
    assert!(matches!(err, EngineError::Unreachable { .. }));
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");

    let p = plan(&server.url(), &format!("[http]\ninsecure = true\n{body}"));
    assert_eq!(go(&p).total().ok, 400);
}

#[test]
fn an_unreachable_target_is_reported_before_any_load() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = plan(
        &format!("http://127.0.0.1:{port}"),
        &format!("[[scenario]]\n[[scenario.step]]\nget = \"/\"\n{OPEN_200_FOR_2S}"),
    );
    let err = run(&p, &RunOptions::default(), &Cancel::new(), &mut ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "target http://127.0.0.1:{port} is unreachable: connection refused by 127.0.0.1:{port}"
        )
    );
}

#[test]
fn refused_connections_during_a_run_are_counted_not_raised() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = plan(
        &format!("http://127.0.0.1:{port}"),
        "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[load]\nmodel = \"open\"\nrate = \"100/s\"\nduration = \"1s\"\n",
    );
    let options = RunOptions {
        skip_preflight: true,
        ..RunOptions::default()
    };
    let result = run(&p, &options, &Cancel::new(), &mut ()).unwrap();
    let total = result.total();
    assert_eq!(total.count, 100);
    assert_eq!(
        total.errors.get(&ErrorKind::ConnectRefused).copied(),
        Some(100)
    );
    assert_eq!(total.latency.count(), 0, "no response, no latency sample");
}

#[test]
fn timeouts_are_counted_by_kind() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let p = plan(
        &server.url(),
        "[http]\ntimeout = \"100ms\"\n[[scenario]]\n[[scenario.step]]\nget = \"/slow/500\"\n[load]\nmodel = \"open\"\nrate = \"20/s\"\nduration = \"1s\"\n",
    );
    let total = go(&p).total();
    assert_eq!(total.count, 20);
    assert_eq!(total.errors.get(&ErrorKind::Timeout).copied(), Some(20));
}

#[test]
fn open_model_holds_2000_per_second() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let p = plan(
        &server.url(),
        "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[load]\nmodel = \"open\"\nrate = \"2000/s\"\nduration = \"5s\"\n",
    );
    let result = go(&p);
    let sent = result.total().count;
    assert!((9900..=10100).contains(&sent), "sent {sent}");
    assert_eq!(server.counters.requests(), sent);
    for second in &result.timeline[1..5] {
        assert!(
            (1900..=2100).contains(&second.sent),
            "second {}: {} sent",
            second.t,
            second.sent
        );
    }
    // Late means more than 10 ms behind the schedule. Generator and server share two cores
    // in an unoptimized build here: scheduler stalls made 106 and 317 of 10,000 late in two CI
    // runs. A generator that cannot keep up is late for most arrivals, far past 5%.
    assert!(
        result.generator.late < 500,
        "late {} of {} scheduled",
        result.generator.late,
        result.generator.scheduled
    );
}

#[test]
fn a_stalled_server_shows_in_intended_latency_not_in_service_time() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    // A few users, as a wrk-style tool would have: during the stall they are all stuck, and the
    // arrivals behind them wait in the generator.
    let p = plan(
        &server.url(),
        "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[load]\nmodel = \"open\"\nrate = \"500/s\"\nduration = \"10s\"\nmax_in_flight = 10\n",
    );
    let stall = std::thread::spawn({
        let counters = server.counters.clone();
        move || {
            // Stall once, mid-run (after about 4.5 s of traffic).
            while counters.requests() < 2250 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let handle = std::thread::spawn({
        let p = p.clone();
        move || go(&p)
    });
    stall.join().unwrap();
    server.stall_for(Duration::from_secs(1));
    let result = handle.join().unwrap();
    let total = result.total();
    let p99 = total.latency.quantile(0.99);
    let service_p99 = total.service.quantile(0.99);
    assert!(
        p99 >= Duration::from_millis(500),
        "intended-time p99 {p99:?}"
    );
    assert!(
        service_p99 < Duration::from_millis(100),
        "service-time p99 {service_p99:?}"
    );
    assert!(result.generator.waited_for_capacity > 0);
    assert!(result.generator.late > 0);
    assert!(
        total.count >= 4990,
        "every arrival is still sent: {}",
        total.count
    );
}

#[test]
fn closed_model_with_pacing_runs_each_user_on_its_pace() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let p = plan(
        &server.url(),
        "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[load]\nmodel = \"closed\"\nusers = 5\nduration = \"2s\"\npacing = \"100ms\"\n",
    );
    let result = go(&p);
    let count = result.total().count;
    assert!(
        (95..=105).contains(&count),
        "5 users × 20 iterations, got {count}"
    );
    assert_eq!(result.generator.max_vus, 5);
    // One connection per user, plus the preflight check's.
    assert_eq!(server.connections(), 6);
}

#[test]
fn closed_model_ramps_users() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let p = plan(
        &server.url(),
        "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[load]\nmodel = \"closed\"\npacing = \"100ms\"\nstages = [{ users = \"0..10\", over = \"2s\" }]\n",
    );
    let result = go(&p);
    // Users join one by one: user k runs from 0.2·(k+1) s to 2 s, ten iterations a second.
    let expected: f64 = (0..10).map(|k| (2.0 - 0.2 * f64::from(k + 1)) * 10.0).sum();
    let count = result.total().count as f64;
    assert!(
        (count - expected).abs() <= 12.0,
        "expected ≈{expected}, got {count}"
    );
    // A closed model has no schedule of arrivals to show.
    assert!(result.timeline.iter().all(|s| s.scheduled == 0));
}

#[test]
fn stopping_ends_with_a_partial_interrupted_result() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let p = plan(
        &server.url(),
        "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[load]\nmodel = \"open\"\nrate = \"100/s\"\nduration = \"30s\"\n",
    );
    let stop = Cancel::new();
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            stop.cancel();
        })
    };
    let started = std::time::Instant::now();
    let result = run(&p, &RunOptions::default(), &stop, &mut ()).unwrap();
    stopper.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(result.meta.status, RunStatus::Interrupted);
    let count = result.total().count;
    assert!((130..=170).contains(&count), "{count}");
    // Arrivals after the stop are not dropped, just not due. One may fall due in the instant
    // between the stop and the arrival loop noticing it on a busy machine; it was not sent.
    assert!(
        result.generator.dropped <= 1,
        "dropped {}",
        result.generator.dropped
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("loadcast-engine-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn against_nginx_counts_are_exact() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let nginx = loadcast_testkit::Nginx::start();
    let p = plan(
        &nginx.url(),
        &format!(
            "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[[scenario.step]]\nget = \"/missing\"\n{OPEN_200_FOR_2S}"
        ),
    );
    let result = go(&p);
    let ok = result.request("GET /").unwrap();
    assert_eq!(
        (ok.count, ok.ok, ok.status.get(&200).copied()),
        (400, 400, Some(400))
    );
    assert_eq!(ok.bytes_received, 400 * 3);
    let missing = result.request("GET /missing").unwrap();
    assert_eq!(
        missing.errors.get(&ErrorKind::Status(404)).copied(),
        Some(400)
    );
}

/// pgbench `--rate --latency-limit`: an arrival already beyond the limit when a user is free
/// is skipped and counted, never sent; every iteration that ran beyond it is counted. One
/// worker, one user in flight, 40 ms requests every 20 ms: about every other arrival finds the
/// user busy for longer than the 30 ms limit.
#[test]
fn a_latency_limit_counts_late_iterations_and_skips_hopeless_arrivals() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let body = |limit: &str| {
        format!(
            "[[scenario]]\n[[scenario.step]]\nget = \"/slow/40\"\n[load]\nmodel = \"open\"\nrate = \"50/s\"\nduration = \"2s\"\nmax_in_flight = 1\n{limit}"
        )
    };
    let options = RunOptions {
        workers: Some(1),
        ..RunOptions::default()
    };
    let limited = plan(&server.url(), &body("latency_limit = \"30ms\"\n"));
    let result = run(&limited, &options, &Cancel::new(), &mut ()).unwrap();
    let g = &result.generator;
    eprintln!("{g:?}");
    assert_eq!(g.latency_limit_ms, Some(30.0));
    assert_eq!(g.scheduled, 100, "{g:?}");
    assert_eq!(g.started + g.skipped + g.dropped, g.scheduled, "{g:?}");
    assert!(
        (25..=75).contains(&g.skipped),
        "about half the arrivals find the user busy beyond the limit: {g:?}"
    );
    assert_eq!(
        g.over_latency_limit, g.started,
        "every 40 ms iteration ends beyond 30 ms: {g:?}"
    );
    assert!(g.late >= g.skipped, "a skipped arrival was late: {g:?}");
    assert_eq!(
        server.counters.requests(),
        g.started,
        "skipped ones are never sent"
    );
    assert!(
        g.lag_max_us >= 10_000 && g.mean_lag() > Duration::ZERO,
        "{g:?}"
    );

    let unlimited = plan(&server.url(), &body(""));
    let result = run(&unlimited, &options, &Cancel::new(), &mut ()).unwrap();
    let g = &result.generator;
    assert_eq!(
        (g.skipped, g.over_latency_limit, g.latency_limit_ms),
        (0, 0, None),
        "{g:?}"
    );
}
