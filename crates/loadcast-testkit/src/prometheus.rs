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
        let out = Command::new(binary("promtool"))
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
        std::fs::write(
            dir.join("prometheus.yml"),
            "global:\n  scrape_interval: 1h\n",
        )
        .unwrap();
        let child = Command::new(binary("prometheus"))
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
                std::fs::File::create(dir.join("prometheus.log")).unwrap(),
            ))
            .spawn()
            .expect("start prometheus");
        let server = Self {
            port,
            process: crate::Spawned { child, dir },
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
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
                server.process.dir.join("prometheus.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
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
