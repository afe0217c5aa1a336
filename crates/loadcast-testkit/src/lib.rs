//! Real servers for loadcast's tests. [`TestServer`] is an in-process HTTP server on a loopback
//! port chosen by the OS, speaking HTTP/1.1 and HTTP/2 (h2c by prior knowledge, or h2 over TLS by
//! ALPN with a self-signed certificate made for the test). It counts what it receives so tests can
//! check exact numbers, and can stall on demand to show coordinated omission.
//!
//! Routes: `/status/{code}` answers with that status; `/slow/{ms}` answers after `ms`
//! milliseconds; `/version` answers `HTTP/1.1` or `HTTP/2.0`; anything else answers `200 hello`.

mod app;
pub mod capacity;
pub mod chromium;
pub mod db;
pub mod prometheus;
pub mod s3;

pub use app::{AppState, SessionApp};
pub use capacity::CapacityServer;
pub use prometheus::Prometheus;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;

/// What the server has seen.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub http2: AtomicU64,
    by_path: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn path(&self, path: &str) -> u64 {
        self.by_path.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

#[derive(Debug)]
struct State {
    counters: Arc<Counters>,
    /// Requests that arrive before this instant wait until it.
    stall_until: Mutex<Option<Instant>>,
}

/// A running test server; it stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    /// PEM of the self-signed certificate, for TLS servers.
    pub certificate_pem: Option<String>,
    state: Arc<State>,
    server: Serving,
}

impl TestServer {
    /// A plain-TCP server (HTTP/1.1 and h2c).
    pub fn start() -> Self {
        Self::spawn(None)
    }

    /// A TLS server (ALPN h2 and http/1.1) with a fresh self-signed certificate for 127.0.0.1.
    pub fn start_tls() -> Self {
        let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("certificate generation");
        let cert_der = key.cert.der().clone();
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.key_pair.serialize_der().into());
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Self::spawn(Some((Arc::new(config), key.cert.pem())))
    }

    fn spawn(tls: Option<(Arc<rustls::ServerConfig>, String)>) -> Self {
        let counters = Arc::new(Counters::default());
        let state = Arc::new(State {
            counters: counters.clone(),
            stall_until: Mutex::new(None),
        });
        let certificate_pem = tls.as_ref().map(|(_, pem)| pem.clone());
        let acceptor = tls.map(|(config, _)| tokio_rustls::TlsAcceptor::from(config));
        let handler_state = state.clone();
        let server = serve(acceptor, move |req| handle(handler_state.clone(), req));
        Self {
            addr: server.addr,
            counters,
            certificate_pem,
            state,
            server,
        }
    }

    /// Connections the server has accepted.
    pub fn connections(&self) -> u64 {
        self.server.connections.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        let scheme = if self.certificate_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Every request that arrives in the next `duration` waits until it is over.
    pub fn stall_for(&self, duration: Duration) {
        *self.state.stall_until.lock().unwrap() = Some(Instant::now() + duration);
    }

    /// Writes the certificate PEM next to a plan, for `http.ca`.
    pub fn write_certificate(&self, path: &Path) {
        std::fs::write(path, self.certificate_pem.as_ref().expect("a TLS server")).unwrap();
    }
}

pub use loadcast_demo::{Reply, Serving};

/// Serves `handler` (HTTP/1.1 and HTTP/2, over TLS when `acceptor` is given) on a loopback port.
pub fn serve<H, F>(acceptor: Option<tokio_rustls::TlsAcceptor>, handler: H) -> Serving
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Reply> + Send + 'static,
{
    loadcast_demo::serve(acceptor, 2, handler).expect("serve on loopback")
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let counters = &state.counters;
    counters.requests.fetch_add(1, Ordering::SeqCst);
    if req.version() == http::Version::HTTP_2 {
        counters.http2.fetch_add(1, Ordering::SeqCst);
    }
    let path = req.uri().path().to_string();
    *counters
        .by_path
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default() += 1;
    let stall = *state.stall_until.lock().unwrap();
    if let Some(until) = stall {
        if Instant::now() < until {
            tokio::time::sleep_until(until.into()).await;
        }
    }
    let mut status = StatusCode::OK;
    let mut body = Bytes::from_static(b"hello");
    if let Some(code) = path.strip_prefix("/status/") {
        status = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
    } else if let Some(ms) = path.strip_prefix("/slow/") {
        precise_sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
    } else if path == "/version" {
        body = Bytes::from(format!("{:?}", req.version()));
    }
    Ok(Response::builder()
        .status(status)
        .body(Full::new(body))
        .unwrap())
}

/// Sleeps `delay` to within a fraction of a millisecond. Tokio's timer rounds every sleep up to
/// its next 1 ms tick, and the phase of the test server's ticks against the load generator's
/// schedule is fixed for a whole run but differs between runs: two identical runs then differ
/// in their medians by up to a tick (10% of an 8 ms request), a between-run difference that no
/// within-run interval can see. So the last two milliseconds are slept on a blocking thread,
/// off the tick grid.
async fn precise_sleep(delay: Duration) {
    let deadline = Instant::now() + delay;
    let coarse = delay.saturating_sub(Duration::from_millis(2));
    if !coarse.is_zero() {
        tokio::time::sleep(coarse).await;
    }
    let rest = deadline.saturating_duration_since(Instant::now());
    if !rest.is_zero() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
}

/// A real nginx on a loopback port, serving a tiny static body; stopped when dropped.
/// Fails loudly when nginx is not installed (`.ci/run` installs it).
#[derive(Debug)]
pub struct Nginx {
    pub addr: SocketAddr,
    _process: Spawned,
}

/// The body of `GET path` from `addr` (`host:port`) over HTTP/1.0, `None` when nothing answers
/// 200 within 5 s.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.split(' ').nth(1).filter(|code| *code == "200")?;
    Some(body.to_string())
}

/// A server process the test started in its own directory: killed, and the directory
/// removed, when dropped.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) child: std::process::Child,
    pub(crate) dir: std::path::PathBuf,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nginx {
    pub fn start() -> Self {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is not installed: run `apt-get install nginx` (.ci/run does)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("loadcast-nginx-{port}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let conf = format!(
            "worker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {dir};\n  proxy_temp_path {dir};\n\
             fastcgi_temp_path {dir};\n  uwsgi_temp_path {dir};\n  scgi_temp_path {dir};\n\
             server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 200 \"ok\\n\"; }}\n\
             location /missing {{ return 404; }}\n  }}\n}}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = std::process::Command::new(binary)
            .args([
                "-p",
                dir.to_str().unwrap(),
                "-c",
                "nginx.conf",
                "-g",
                "daemon off; master_process off;",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start; see {}/logs/error.log",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            addr,
            _process: Spawned { child, dir },
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
