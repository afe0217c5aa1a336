//! A plan run as four shard processes (each with its own `JOB_COMPLETION_INDEX`, as a
//! Kubernetes Indexed Job's pods) and merged matches the same plan run by one process; every
//! `unique` feeder row goes to exactly one shard; a shard killed and run again counts once.

use super::*;

/// An open-model plan: 100 arrivals a second for 4 s, each user its own row of 400.
fn sharded_plan(dir: &Path, target: &str) -> PathBuf {
    let rows: String = (0..400).map(|i| format!("{i}\n")).collect();
    std::fs::write(dir.join("rows.csv"), format!("id\n{rows}")).unwrap();
    let path = dir.join("wide.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "wide"
target = "{target}"

[feeders.row]
csv = "rows.csv"
strategy = "unique"

[load]
model = "open"
rate = "100/s"
duration = "4s"

[slo]
p99 = "500ms"
errors = "1%"

[[scenario]]
[[scenario.step]]
get = "/row/{{{{row.id}}}}"
"#
        ),
    )
    .unwrap();
    path
}

fn shard(dir: &Path, plan: &Path, index: u32, start_at: &str) -> std::process::Child {
    shard_to(dir, plan, index, start_at, None, &[])
}

fn shard_to(
    dir: &Path,
    plan: &Path,
    index: u32,
    start_at: &str,
    out: Option<&str>,
    env: &[(String, String)],
) -> std::process::Child {
    let mut command = loadcast();
    command.args(["--no-store", "run"]).arg(plan).args([
        "--shards",
        "4",
        "--start-at",
        start_at,
        "--workers",
        "1",
    ]);
    if let Some(out) = out {
        command.args(["-o", out]);
    }
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["--progress", "off"])
        .env("JOB_COMPLETION_INDEX", index.to_string())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A merge's standard output, once it exited 0 having merged all four shards.
fn merged_four(out: &Output, what: &str) -> String {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {stdout}{}",
        text(&out.stderr)
    );
    assert_has(&stdout, "4 shards merged");
    stdout
}

/// The exported stream, and each of its documents.
fn manifest_documents(path: &Path) -> (String, Vec<serde_json::Value>) {
    let manifests = std::fs::read_to_string(path).unwrap();
    let docs = manifests
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    (manifests, docs)
}

fn rows_seen(server: &TestServer) -> Vec<u32> {
    (0..400)
        .filter(|i| server.counters.path(&format!("/row/{i}")) > 0)
        .collect()
}

#[test]
fn four_shards_merged_match_one_process_and_split_the_unique_rows() {
    let _alone = measuring_alone();
    let dir = workdir("shards");
    let server = TestServer::start();
    let plan = sharded_plan(&dir, &server.url());

    // One process, the whole plan.
    let whole = loadcast()
        .args(["--no-store", "run"])
        .arg(&plan)
        .args(["--progress", "off", "-o", "whole.result.json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    let whole = RunResult::load(&dir.join("whole.result.json")).unwrap();
    let rows_whole = rows_seen(&server).len();

    // Each shard alone, one after another: the rows each one used.
    let mut used: Vec<Vec<u32>> = Vec::new();
    let mut before: Vec<u32> = Vec::new();
    let fresh = TestServer::start();
    let plan_fresh = sharded_plan(&dir, &fresh.url());
    for index in 0..4 {
        let out = shard(&dir, &plan_fresh, index, "0")
            .wait_with_output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let now = rows_seen(&fresh);
        used.push(
            now.iter()
                .copied()
                .filter(|r| !before.contains(r))
                .collect(),
        );
        before = now;
    }
    let all: usize = used.iter().map(Vec::len).sum();
    assert_eq!(
        all,
        before.len(),
        "no row was used by two shards: {:?}",
        used.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(
        used.iter().all(|rows| rows.len() >= 90) && all.abs_diff(rows_whole) <= 8,
        "the shards share the users as one process has them ({rows_whole} rows): {:?}",
        used.iter().map(Vec::len).collect::<Vec<_>>()
    );

    // The four at once, from the same start, as an Indexed Job runs them.
    let start = loadcast_stats::time::now() + 2;
    let children: Vec<_> = (0..4)
        .map(|i| shard(&dir, &plan, i, &start.to_string()))
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let files: Vec<String> = (0..4)
        .map(|i| format!("wide.shard-{i}-of-4.result.json"))
        .collect();
    let mut merge_args = vec!["--no-store", "merge", "-o", "merged.result.json"];
    merge_args.extend(files.iter().map(String::as_str));
    let mut with_html = merge_args.clone();
    with_html.extend(["--html", "merged.html"]);
    let stdout = merged_four(&run_in(&dir, &with_html), "the four shards");
    assert_has(&stdout, "shards (each one's generator):");
    let shard_rows = stdout
        .lines()
        .skip_while(|l| !l.starts_with("shards ("))
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(shard_rows, 4, "a row per shard:\n{stdout}");
    // The merged HTML report, as Chromium renders it: the shards' table beside the totals.
    let (dom, _) =
        loadcast_testkit::chromium::dump_dom(&dir.join("merged.html"), &dir.join("profile"));
    let table = dom.split("<h3>Shards</h3>").nth(1).unwrap_or("");
    assert!(
        dom.contains("4 shards merged"),
        "the report names the merge"
    );
    assert_eq!(
        table
            .split("</table>")
            .next()
            .unwrap_or("")
            .matches("<tr")
            .count(),
        5,
        "a header and four shard rows in the HTML report:\n{table}"
    );
    let merged = RunResult::load(&dir.join("merged.result.json")).unwrap();
    let (one, four) = (whole.total().count, merged.total().count);
    assert!(
        one.abs_diff(four) * 100 <= one,
        "total requests within 1%: one process {one}, four shards {four}"
    );
    let steady = |r: &RunResult| -> Vec<u64> {
        r.timeline
            .iter()
            .filter(|s| (1..=3).contains(&s.t))
            .map(|s| s.sent)
            .collect()
    };
    let (a, b) = (steady(&whole), steady(&merged));
    assert!(
        a.len() == 3 && b.len() == 3 && a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) * 20 <= *x),
        "each second's rate within 5%: one process {a:?}, four shards {b:?}"
    );
    let verdicts = |r: &RunResult| -> Vec<(String, bool)> {
        r.thresholds
            .iter()
            .map(|t| (t.threshold.to_string(), t.passed))
            .collect()
    };
    assert_eq!(
        verdicts(&whole),
        verdicts(&merged),
        "the same verdicts, evaluated on the merged result"
    );
    assert!(!merged.thresholds.is_empty());

    // Shard 2 killed mid-run and run again: the merge takes its complete attempt only.
    let killed_start = (loadcast_stats::time::now() + 1).to_string();
    let mut child = shard(&dir, &plan, 2, &killed_start);
    std::thread::sleep(Duration::from_millis(2500));
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "a stopped shard saves a partial result"
    );
    std::fs::rename(
        dir.join("wide.shard-2-of-4.result.json"),
        dir.join("wide.shard-2-of-4.killed.result.json"),
    )
    .unwrap();
    let rerun = shard(&dir, &plan, 2, "0").wait_with_output().unwrap();
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun.stderr));
    let mut with_rerun = merge_args.clone();
    with_rerun[3] = "remerged.result.json";
    with_rerun.push("wide.shard-2-of-4.killed.result.json");
    let out = run_in(&dir, &with_rerun);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_has(&text(&out.stderr), "an interrupted attempt");
    let remerged = RunResult::load(&dir.join("remerged.result.json")).unwrap();
    let again = remerged.total().count;
    assert!(
        one.abs_diff(again) * 100 <= one,
        "the killed attempt is not counted: one process {one}, merged with the rerun {again}"
    );

    // Without shard 2 at all, the merge says so and fails.
    let partial: Vec<&str> = merge_args
        .iter()
        .copied()
        .filter(|a| !a.contains("shard-2"))
        .collect();
    let out = run_in(&dir, &partial);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_has(
        &text(&out.stderr),
        "shard(s) 2 of 4 have no complete result",
    );
}

/// The same four shards writing to object storage — an S3-compatible server on loopback, and
/// `file://` — and `merge --wait 4`, started first, merging from there as a Job's last step.
#[test]
fn shards_meet_in_object_storage_and_merge_waits_for_them() {
    let _alone = measuring_alone();
    let dir = workdir("shards-s3");
    let server = TestServer::start();
    let plan = sharded_plan(&dir, &server.url());
    let s3 = loadcast_testkit::s3::S3Server::start("lc-results");
    let local = dir.join("bucket");
    std::fs::create_dir_all(&local).unwrap();
    let prefixes = [
        format!("s3://{}/run-1/", s3.bucket),
        format!("file://{}/run-1/", local.display()),
    ];
    for prefix in &prefixes {
        if prefix.starts_with("file://") {
            std::fs::create_dir_all(local.join("run-1")).unwrap();
        }
        let waiting = loadcast()
            .args([
                "--no-store",
                "merge",
                prefix,
                "--wait",
                "4",
                "--timeout",
                "90s",
            ])
            .envs(s3.env())
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = (loadcast_stats::time::now() + 2).to_string();
        let children: Vec<_> = (0..4)
            .map(|i| shard_to(&dir, &plan, i, &start, Some(prefix), &s3.env()))
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{prefix}: {}",
                text(&out.stderr)
            );
        }
        let stdout = merged_four(&waiting.wait_with_output().unwrap(), prefix);
        // Each shard reported its progress beside its result, the last report its total.
        if prefix.starts_with("file://") {
            let mut reported = 0;
            for i in 0..4 {
                let path = local.join(format!("run-1/wide.shard-{i}-of-4.progress.json"));
                let body = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let progress: loadcast_stats::shard::ShardProgress =
                    serde_json::from_str(&body).unwrap();
                assert!(progress.finished && progress.index == i, "{body}");
                reported += progress.completed;
            }
            assert!(
                (396..=404).contains(&reported),
                "the shards' last progress reports add up to the run: {reported}"
            );
        }
        assert_has(
            &stdout,
            &format!("merged result written to {prefix}merged.result.json"),
        );
        // The merged result is in the store beside the shards, and `report` reads it back.
        let fetched = loadcast()
            .args(["--no-store", "merge", prefix, "-o", "again.result.json"])
            .envs(s3.env())
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(fetched.status.code(), Some(0), "{}", text(&fetched.stderr));
        let again = RunResult::load(&dir.join("again.result.json")).unwrap();
        let count = again.total().count;
        assert!(
            (396..=404).contains(&count),
            "{prefix}: the four shards ran the plan's 400 arrivals once: {count}"
        );
    }

    // A plan read from object storage brings the feeder it names from beside it.
    let plans = local.join("plans");
    std::fs::create_dir_all(&plans).unwrap();
    std::fs::copy(&plan, plans.join("wide.toml")).unwrap();
    std::fs::copy(dir.join("rows.csv"), plans.join("rows.csv")).unwrap();
    std::fs::remove_file(dir.join("rows.csv")).unwrap();
    let remote_plan = format!("file://{}/wide.toml", plans.display());
    let out = loadcast()
        .args([
            "--no-store",
            "run",
            &remote_plan,
            "--progress",
            "off",
            "-o",
            "remote.result.json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let remote = RunResult::load(&dir.join("remote.result.json")).unwrap();
    assert!(
        remote.total().count >= 396 && remote.total().error_count() == 0,
        "the plan from {remote_plan} ran with its feeder: {} requests",
        remote.total().count
    );
}

/// `export kubernetes`: the manifests pass the Kubernetes OpenAPI schema (kubernetes-validate,
/// strict, Kubernetes 1.37) and say what a sharded run needs.
#[test]
fn the_exported_manifests_validate_against_the_kubernetes_schema() {
    let dir = workdir("k8s");
    sharded_plan(&dir, "http://shop.internal:8080");
    let out = run_in(
        &dir,
        &[
            "export",
            "kubernetes",
            "wide.toml",
            "--shards",
            "4",
            "--image",
            "registry.example/loadcast:0.1.0",
            "--out",
            "s3://lc-results/wide-1/",
            "-o",
            "wide.k8s.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_has(&text(&out.stderr), "an Indexed Job of 4 shards");
    let validated = Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.37.0"])
        .arg(dir.join("wide.k8s.json"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run kubernetes-validate: {e} (pip install kubernetes-validate; scripts/test.sh does)")
        });
    let said = format!("{}{}", text(&validated.stdout), text(&validated.stderr));
    assert!(
        validated.status.success() && said.matches("passed").count() == 3,
        "every object passes the schema:\n{said}"
    );
    let (_, docs) = manifest_documents(&dir.join("wide.k8s.json"));
    let (config, shards, merge) = (&docs[0], &docs[1], &docs[2]);
    assert!(
        config["data"]["plan.toml"]
            .as_str()
            .unwrap()
            .contains("rate = \"100/s\"")
    );
    assert!(
        config["data"]["feeder-0"]
            .as_str()
            .unwrap()
            .starts_with("id\n0\n1\n")
    );
    let spec = &shards["spec"];
    assert_eq!(
        (
            spec["completionMode"].as_str(),
            spec["completions"].as_u64(),
            spec["parallelism"].as_u64()
        ),
        (Some("Indexed"), Some(4), Some(4))
    );
    assert!(spec["backoffLimitPerIndex"].as_u64().is_some());
    let pod = &spec["template"]["spec"];
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
            ["topologyKey"],
        "kubernetes.io/hostname"
    );
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(
        &args[..7],
        [
            "--no-store",
            "run",
            "/plan/plan.toml",
            "--shards",
            "4",
            "-o",
            "s3://lc-results/wide-1/"
        ]
    );
    assert!(pod["containers"][0]["resources"]["requests"]["cpu"].is_string());
    let merge_args = merge["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(merge_args.contains("\"--wait\",\"4\""), "{merge_args}");

    // Shards on many machines cannot meet in a local directory.
    let local = run_in(
        &dir,
        &[
            "export",
            "kubernetes",
            "wide.toml",
            "--shards",
            "4",
            "--image",
            "x",
            "--out",
            "/tmp/results/",
        ],
    );
    assert_eq!(local.status.code(), Some(2));
    assert_has(&text(&local.stderr), "must write to object storage");
}

/// Feeders too large for a ConfigMap: the export uploads the plan and its files beside the
/// results, the Job reads the plan from there, and a shard run as its pod would uses the rows.
#[test]
fn a_plan_whose_feeders_outgrow_a_configmap_is_exported_through_object_storage() {
    let _alone = measuring_alone();
    let dir = workdir("k8s-large");
    let server = TestServer::start();
    sharded_plan(&dir, &server.url());
    let pad = "x".repeat(3_000);
    let rows: String = (0..400).map(|i| format!("{i},{pad}\n")).collect();
    std::fs::write(dir.join("rows.csv"), format!("id,pad\n{rows}")).unwrap();
    let s3 = loadcast_testkit::s3::S3Server::start("lc-large");
    let prefix = format!("s3://{}/wide-2/", s3.bucket);
    let out = loadcast()
        .args(["export", "kubernetes", "wide.toml", "--shards", "4"])
        .args([
            "--image",
            "registry.example/loadcast:0.1.0",
            "--out",
            &prefix,
        ])
        .args(["-o", "wide.k8s.json"])
        .envs(s3.env())
        .current_dir(&dir)
        .output()
        .unwrap();
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_has(
        &said,
        &format!("uploaded the plan and 1 file(s) to {prefix}inputs/"),
    );
    let (manifests, docs) = manifest_documents(&dir.join("wide.k8s.json"));
    assert_eq!(docs.len(), 2, "no ConfigMap: {manifests}");
    let args = docs[0]["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    let remote_plan = format!("{prefix}inputs/plan.toml");
    assert!(
        args.contains(&format!("\"run\",\"{remote_plan}\"")),
        "{args}"
    );
    let validated = Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.37.0"])
        .arg(dir.join("wide.k8s.json"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubernetes-validate: {e}"));
    let checked = format!("{}{}", text(&validated.stdout), text(&validated.stderr));
    assert!(
        validated.status.success() && checked.matches("passed").count() == 2,
        "{checked}"
    );
    // Shard 0 as its pod runs it: the plan and the 1.2 MB feeder from object storage.
    let start = (loadcast_stats::time::now() + 1).to_string();
    let shard = shard_to(
        &dir,
        Path::new(&remote_plan),
        0,
        &start,
        Some(&prefix),
        &s3.env(),
    )
    .wait_with_output()
    .unwrap();
    assert_eq!(shard.status.code(), Some(0), "{}", text(&shard.stderr));
    let seen = rows_seen(&server);
    assert!(
        (95..=101).contains(&seen.len()) && seen.iter().all(|r| r % 4 == 0),
        "shard 0 of 4 used its own quarter of the rows: {seen:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
