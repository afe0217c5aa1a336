//! A real Prometheus on a loopback port, its TSDB backfilled with history the test writes
//! (OpenMetrics → `promtool tsdb create-blocks-from openmetrics`). Stopped when dropped. Fails
//! loudly when Prometheus is not installed (`scripts/test.sh` installs the Debian package).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Prometheus {
    pub port: u16,
    process: crate::Spawned,
}

fn binary(name: &str) -> PathBuf {
    ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{name} is not installed: apt-get install prometheus (scripts/test.sh does)")
        })
}

impl Prometheus {
    /// Starts Prometheus with `openmetrics` (ending in `# EOF`) loaded into its TSDB.
    pub fn start_with_history(openmetrics: &str) -> Self {
        Self::start_scraping(openmetrics, &[])
    }

    /// [`start_with_history`](Self::start_with_history), scraping each `(job, host:port)` every
    /// second.
    pub fn start_scraping(openmetrics: &str, targets: &[(&str, String)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("loadcast-prometheus-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("history.om"), openmetrics).unwrap();
        let out = Command::new(promtool())
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(dir.join("history.om"))
            .arg(dir.join("data"))
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool could not load the history: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config = String::from("global:\n  scrape_interval: 1h\n");
        if !targets.is_empty() {
            config.push_str("scrape_configs:\n");
            for (job, target) in targets {
                config.push_str(&format!(
                    "  - job_name: {job}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: [\"{target}\"]\n"
                ));
            }
        }
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let child = spawn(&dir, port);
        let server = Self {
            port,
            process: crate::Spawned { child, dir },
        };
        server.wait_ready();
        server
    }

    /// Stops the server, keeping its data (for [`start_again`](Self::start_again)).
    pub fn stop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }

    /// Starts the stopped server again on the same port, with the same data.
    pub fn start_again(&mut self) {
        self.process.child = spawn(&self.process.dir, self.port);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read as _, Write as _};
                let _ = s.write_all(b"GET /-/ready HTTP/1.0\r\n\r\n");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus did not get ready; see {}",
                self.process.dir.join("prometheus.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The instant query's result (`data.result`), or why there is none.
    pub fn query(&self, promql: &str) -> Result<Vec<serde_json::Value>, String> {
        let encoded =
            percent_encoding::utf8_percent_encode(promql, percent_encoding::NON_ALPHANUMERIC);
        let body = crate::http_get(
            &format!("127.0.0.1:{}", self.port),
            &format!("/api/v1/query?query={encoded}"),
        )
        .ok_or("Prometheus did not answer")?;
        let answer: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        answer["data"]["result"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("no result in {body}"))
    }
}

fn spawn(dir: &Path, port: u16) -> std::process::Child {
    Command::new(binary("prometheus"))
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("prometheus.log"))
                .unwrap(),
        ))
        .spawn()
        .expect("start prometheus")
}

/// Debian's `promtool` (checks rule files, tests rules, loads history).
pub fn promtool() -> PathBuf {
    binary("promtool")
}

/// OpenMetrics text for gauges: `(metric with labels, [(unix seconds, value)])`, grouped by
/// metric family as the format requires.
pub fn openmetrics(series: &[(&str, Vec<(i64, f64)>)]) -> String {
    let mut out = String::new();
    let mut typed: Vec<&str> = Vec::new();
    for (metric, points) in series {
        let family = metric.split('{').next().unwrap_or(metric);
        if !typed.contains(&family) {
            out.push_str(&format!("# TYPE {family} gauge\n"));
            typed.push(family);
        }
        for (t, v) in points {
            out.push_str(&format!("{metric} {v} {t}\n"));
        }
    }
    out.push_str("# EOF\n");
    out
}
