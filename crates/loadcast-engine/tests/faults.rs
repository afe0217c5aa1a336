//! The engine against targets that fail: a process killed mid-run and started again, answers
//! that are not HTTP, ten thousand headers, an endless body and a byte-a-second answer. Every
//! failure is counted by kind, the run ends on time with a complete result, and memory stays
//! bounded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use loadcast_engine::{Cancel, RunOptions, run};
use loadcast_plan::{Plan, parse};
use loadcast_stats::{Document, ErrorKind, RunResult, RunStatus};

/// Runs take turns: two load tests at once on two cores measure each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn plan(target: &str, body: &str) -> Plan {
    let text = format!("target = \"{target}\"\n{body}");
    parse(&text, "faults.toml".as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

fn go(plan: &Plan) -> RunResult {
    let options = RunOptions {
        skip_preflight: true,
        ..RunOptions::default()
    };
    run(plan, &options, &Cancel::new(), &mut ()).unwrap_or_else(|e| panic!("the run failed: {e}"))
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A TCP server that reads each request's head and then answers with `answer`, on a thread of
/// its own per connection, until dropped.
/// How a raw server answers a request, until the flag says stop.
type Answer = fn(&mut TcpStream, &AtomicBool);

struct RawServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl RawServer {
    fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let flag = flag.clone();
                        std::thread::spawn(move || {
                            stream.set_nonblocking(false).ok();
                            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                            let mut head = Vec::new();
                            let mut byte = [0u8; 1];
                            while !head.ends_with(b"\r\n\r\n") {
                                match stream.read(&mut byte) {
                                    Ok(1) => head.push(byte[0]),
                                    _ => return,
                                }
                            }
                            answer(&mut stream, &flag);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { port, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

const TEN_PER_SECOND: &str = "[load]\nmodel = \"open\"\nrate = \"10/s\"\nduration = \"1s\"\n";

fn step(check: &str) -> String {
    format!("[[scenario]]\n[[scenario.step]]\nget = \"/\"\n{check}\n")
}

#[test]
fn answers_that_are_not_http_are_protocol_errors_with_bounded_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = rss_kb();
    let cases: [(&str, Answer, ErrorKind); 3] = [
        (
            "garbage",
            |s, _| {
                let _ = s.write_all(b"HELLO, THIS IS NOT HTTP\r\n\r\n");
            },
            ErrorKind::Protocol,
        ),
        (
            "ten thousand headers",
            |s, _| {
                let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..10_000 {
                    answer.extend_from_slice(format!("X-Header-{i}: value\r\n").as_bytes());
                }
                answer.extend_from_slice(b"Content-Length: 0\r\n\r\n");
                let _ = s.write_all(&answer);
            },
            ErrorKind::Protocol,
        ),
        (
            "an endless body",
            |s, stop| {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n");
                let chunk = vec![b'x'; 64 * 1024];
                while !stop.load(Ordering::Relaxed) && s.write_all(&chunk).is_ok() {}
            },
            ErrorKind::Timeout,
        ),
    ];
    for (name, answer, kind) in cases {
        let server = RawServer::start(answer);
        // The body is kept (a check reads it): its cap is what bounds memory.
        let p = plan(
            &server.url(),
            &format!(
                "[http]\ntimeout = \"500ms\"\n{}{TEN_PER_SECOND}",
                step("check = { body = \"never there\" }")
            ),
        );
        let started = Instant::now();
        let result = go(&p);
        let total = result.total();
        assert_eq!(result.meta.status, RunStatus::Complete, "{name}");
        assert_eq!(total.count, 10, "{name}: {total:?}");
        assert_eq!(
            total.errors.get(&kind).copied(),
            Some(10),
            "{name}: every request is a {kind:?}: {:?}",
            total.errors
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name}: the run took {:?}",
            started.elapsed()
        );
    }
    let grown = rss_kb().saturating_sub(before);
    assert!(
        grown < 200 * 1024,
        "memory grew by {} MB answering three bad servers",
        grown / 1024
    );
}

#[test]
fn a_byte_a_second_is_a_timeout_and_the_run_ends_on_time() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = RawServer::start(|s, stop| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        while !stop.load(Ordering::Relaxed) && s.write_all(b"x").is_ok() {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let p = plan(
        &server.url(),
        &format!(
            "[http]\ntimeout = \"1s\"\n{}[load]\nmodel = \"open\"\nrate = \"10/s\"\nduration = \"2s\"\n",
            step("")
        ),
    );
    let started = Instant::now();
    let result = go(&p);
    let took = started.elapsed();
    let total = result.total();
    assert_eq!(total.count, 20, "{total:?}");
    assert_eq!(
        total.errors.get(&ErrorKind::Timeout).copied(),
        Some(20),
        "{:?}",
        total.errors
    );
    // Two seconds of schedule and one of timeout for the last arrivals; a busy machine adds
    // some, never the slow server's hundred seconds.
    assert!(took < Duration::from_secs(8), "the run took {took:?}");
}

/// A target that accepts and reads each request and never answers: with a short timeout every
/// request is a timeout; with a long one, the requests still waiting when the graceful stop
/// ends are abandoned. Either way the run ends on time with every arrival accounted for.
#[test]
fn a_stalled_target_times_out_or_is_abandoned_and_the_run_ends_on_time() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = RawServer::start(|_, stop| {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let load = "[load]\nmodel = \"open\"\nrate = \"10/s\"\nduration = \"2s\"\n";
    let cases = [
        // Every request times out within the run's graceful stop.
        ("timeout = \"500ms\"", 20, 0, Duration::from_secs(8)),
        // Nothing times out before the graceful stop ends: all twenty are abandoned.
        (
            "timeout = \"60s\"\ngraceful_stop = \"1s\"",
            0,
            20,
            Duration::from_secs(8),
        ),
    ];
    for (http, timeouts, abandoned, limit) in cases {
        let p = plan(
            &server.url(),
            &format!("[http]\n{http}\n{}{load}", step("")),
        );
        let started = Instant::now();
        let result = go(&p);
        let took = started.elapsed();
        let total = result.total();
        let g = &result.generator;
        let measured = format!(
            "[http] {http}: {} completed, errors {:?}, {} abandoned, {} scheduled, took {took:?}",
            total.count, total.errors, g.abandoned, g.scheduled
        );
        assert_eq!(result.meta.status, RunStatus::Complete, "{measured}");
        assert_eq!(g.scheduled, 20, "{measured}");
        assert_eq!(
            total.errors.get(&ErrorKind::Timeout).copied().unwrap_or(0),
            timeouts,
            "{measured}"
        );
        assert_eq!(g.abandoned, abandoned, "{measured}");
        assert_eq!(
            total.count + g.abandoned,
            20,
            "every arrival accounted for: {measured}"
        );
        assert!(took < limit, "{measured}");
    }
}

/// A real server process (Python's http.server) killed a second and a half into a six-second
/// run and started again on the same port two seconds later.
#[test]
fn a_target_killed_mid_run_is_counted_and_the_run_recovers_when_it_returns() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("loadcast-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let serve = || {
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs the target (apt-get install python3)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "python3 -m http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    let mut target = serve();
    let p = plan(
        &format!("http://127.0.0.1:{port}"),
        &format!(
            "[http]\ntimeout = \"2s\"\n{}[load]\nmodel = \"open\"\nrate = \"40/s\"\nduration = \"6s\"\n",
            step("check = { status = 200 }")
        ),
    );
    let run = std::thread::spawn(move || go(&p));
    std::thread::sleep(Duration::from_millis(1500));
    target.kill().unwrap();
    target.wait().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let mut target = serve();
    let result = run.join().unwrap();
    target.kill().ok();
    target.wait().ok();
    std::fs::remove_dir_all(&dir).ok();

    let total = result.total();
    assert_eq!(result.meta.status, RunStatus::Complete);
    assert_eq!(
        total.count, 240,
        "every arrival ended, one way or another: {total:?}"
    );
    let down = total
        .errors
        .get(&ErrorKind::ConnectRefused)
        .copied()
        .unwrap_or(0)
        + total.errors.get(&ErrorKind::Reset).copied().unwrap_or(0);
    assert!(
        down >= 40,
        "the two seconds down are counted: {:?}",
        total.errors
    );
    // Up before, down in the middle, up again at the end.
    let ok_in = |range: std::ops::Range<u32>| -> u64 {
        result
            .timeline
            .iter()
            .filter(|s| range.contains(&s.t))
            .map(|s| s.completed - s.error_count())
            .sum()
    };
    eprintln!(
        "killed target: errors {:?}; answered in second 0: {}, in seconds 5-6: {}",
        total.errors,
        ok_in(0..1),
        ok_in(5..7)
    );
    assert!(ok_in(0..1) > 20, "{:?}", result.timeline);
    assert!(ok_in(5..7) > 20, "the run recovered: {:?}", result.timeline);
    let back = RunResult::from_json(&result.to_json(), "faults").unwrap();
    assert_eq!(
        back, result,
        "the result of a faulty run is a complete document"
    );
}

/// A redirect to another host is an answer, not an instruction: the run sends only to the
/// origin the plan names, so a target (or an attacker in front of it) cannot aim the load
/// elsewhere. The other host, a listener on 127.0.0.2, sees no connection.
#[test]
fn a_redirect_to_another_host_is_not_followed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let elsewhere = TcpListener::bind("127.0.0.2:0").expect("127.0.0.2 is loopback on Linux");
    let port = elsewhere.local_addr().unwrap().port();
    elsewhere.set_nonblocking(true).unwrap();
    static TO: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TO.set(format!("http://127.0.0.2:{port}/")).unwrap();
    let server = RawServer::start(|s, _| {
        let answer = format!(
            "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            TO.get().unwrap()
        );
        let _ = s.write_all(answer.as_bytes());
    });
    let result = go(&plan(
        &server.url(),
        &format!("{}{TEN_PER_SECOND}", step("")),
    ));
    let total = result.total();
    assert_eq!(total.count, 10, "{total:?}");
    assert_eq!(
        total.status.get(&302).copied(),
        Some(10),
        "{:?}",
        total.status
    );
    let reached = elsewhere.accept().is_ok();
    assert!(
        !reached,
        "a request followed the redirect to 127.0.0.2:{port}"
    );
}
