//! `run --shard I/N` and `loadcast merge`: which shard this process runs, when the shards
//! start, and the merge of their results (the product logic is `loadcast_stats::shard`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use loadcast_stats::shard::{ShardTag, merge_shards};
use loadcast_stats::{Document, RunResult, RunStatus};
use loadcast_store::objects::{Location, is_url};

use crate::cli::{ExportKubernetesArgs, MergeArgs, RunArgs, StoreArgs};
use crate::failure::Failure;

/// The shard `run` was asked for: `--shard I/N`, or `--shards N` with the index from
/// `JOB_COMPLETION_INDEX`.
pub fn which(args: &RunArgs) -> Result<Option<(u32, u32)>, Failure> {
    if let Some(text) = &args.shard {
        return ShardTag::parse(text)
            .map(Some)
            .map_err(|e| Failure::usage(format!("--shard: {e}")));
    }
    let Some(count) = args.shards else {
        return Ok(None);
    };
    let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
        Failure::usage("--shards needs JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job), or give --shard INDEX/COUNT")
    })?;
    ShardTag::parse(&format!("{index}/{count}"))
        .map(Some)
        .map_err(|e| {
            Failure::usage(format!(
                "JOB_COMPLETION_INDEX={index} with --shards {count}: {e}"
            ))
        })
}

/// `--start-at`: RFC 3339 or Unix seconds. An instant already past starts now (a shard that
/// was restarted), which the merge's wall-clock alignment places where it ran.
pub fn start_at(text: Option<&str>) -> Result<Option<SystemTime>, Failure> {
    let Some(text) = text else {
        return Ok(None);
    };
    let unix = loadcast_stats::time::parse_time(text).ok_or_else(|| {
        Failure::usage(format!(
            "--start-at {text:?} is not a time: RFC 3339 (2026-12-04T10:00:00Z) or Unix seconds"
        ))
    })?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64);
    if at.duration_since(SystemTime::now()).unwrap_or_default() > Duration::from_secs(24 * 3600) {
        return Err(Failure::usage(format!(
            "--start-at {text} is more than a day away"
        )));
    }
    Ok(Some(at))
}

/// A plan named by an object storage URL (`s3://bucket/plans/shop.toml`), brought here with
/// the files it names relative to itself (feeders, bodies), into a directory of loadcast's own;
/// a local path as it is.
pub fn fetched_plan(plan: &Path) -> Result<PathBuf, Failure> {
    let Some(url) = plan.to_str().filter(|p| is_url(p)) else {
        return Ok(plan.to_path_buf());
    };
    let (prefix, name) = url.rsplit_once('/').unwrap_or(("", url));
    let dir = std::env::temp_dir().join(format!("loadcast-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Failure::run(format!("{}: {e}", dir.display())))?;
    let text = Location::parse(url)
        .and_then(|l| l.get())
        .map_err(Failure::usage)?;
    let local = dir.join(name);
    std::fs::write(&local, &text).map_err(|e| Failure::run(format!("{}: {e}", local.display())))?;
    let text = String::from_utf8_lossy(&text);
    for file in loadcast_plan::referenced_files(&text) {
        let remote = format!("{prefix}/{file}");
        let bytes = Location::parse(&remote)
            .and_then(|l| l.get())
            .map_err(|e| Failure::usage(format!("{url} names {file}: {e}")))?;
        let path = dir.join(&file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::run(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| Failure::run(format!("{}: {e}", path.display())))?;
    }
    Ok(local)
}

/// `shop.result.json` → `shop.shard-2-of-4.result.json`.
pub fn shard_path(whole: &Path, index: u32, count: u32) -> PathBuf {
    let name = whole
        .file_name()
        .map_or("loadcast".into(), |n| n.to_string_lossy().into_owned());
    let stem = name.strip_suffix(".result.json").unwrap_or(&name);
    whole.with_file_name(format!("{stem}.shard-{index}-of-{count}.result.json"))
}

/// Where `run -o URL` writes: an object storage prefix (`…/`: the result is named there as a
/// local one would be, shards by index and attempt), or one object.
pub enum RemoteOut {
    Prefix(Location),
    Object(Location),
}

/// `-o` when it names object storage, checked (the prefix listed) before anything runs.
pub fn remote_out(out: Option<&str>) -> Result<Option<RemoteOut>, Failure> {
    let Some(text) = out.filter(|t| is_url(t)) else {
        return Ok(None);
    };
    let location = Location::parse(text).map_err(Failure::usage)?;
    if !text.ends_with('/') {
        return Ok(Some(RemoteOut::Object(location)));
    }
    location.list().map_err(|e| {
        Failure::usage(format!(
            "cannot write the run's output to {text} ({e}); nothing was run"
        ))
    })?;
    Ok(Some(RemoteOut::Prefix(location)))
}

/// Writes a result to object storage; when that fails, to a local file named `fallback` in
/// the temporary directory, and says where. Returns where it went.
pub fn put_result(out: &RemoteOut, result: &RunResult, fallback: &str) -> Result<String, Failure> {
    let location = match out {
        RemoteOut::Object(l) => l.clone(),
        RemoteOut::Prefix(prefix) => prefix.join(&object_name(result)),
    };
    match location.put(result.to_json().into_bytes()) {
        Ok(()) => Ok(location.url().to_string()),
        Err(e) => {
            let rescued = std::env::temp_dir().join(fallback);
            result.save(&rescued)?;
            Err(Failure::run(format!(
                "{e}; the result was saved to {} instead",
                rescued.display()
            )))
        }
    }
}

/// `shop.result.json`, or for a shard `shop.shard-2-of-4.attempt-1764840000000.result.json`:
/// every attempt keeps its own object, and the merge chooses.
fn object_name(result: &RunResult) -> String {
    let stem = &result.meta.plan_name;
    match result.meta.shard {
        Some(t) => format!(
            "{stem}.shard-{}-of-{}.attempt-{}.result.json",
            t.index, t.count, t.attempt
        ),
        None => format!("{stem}.result.json"),
    }
}

/// Every result `inputs` name: files, objects, and the `.result.json` objects under prefixes.
/// `seen` keeps what earlier rounds of `--wait` read: a result is written whole and never
/// changes, so each is fetched once.
fn collect(
    inputs: &[String],
    seen: &mut std::collections::BTreeMap<String, RunResult>,
) -> Result<Vec<(String, RunResult)>, Failure> {
    let mut names = Vec::new();
    for input in inputs {
        if !is_url(input) {
            if !seen.contains_key(input) {
                let result = RunResult::load(Path::new(input)).map_err(Failure::usage)?;
                seen.insert(input.clone(), result);
            }
            names.push(input.clone());
            continue;
        }
        let location = Location::parse(input).map_err(Failure::usage)?;
        let objects = if input.ends_with('/') {
            location
                .list()
                .map_err(Failure::run)?
                .into_iter()
                .filter(|n| n.ends_with(".result.json") && n.contains(".shard-"))
                .map(|n| location.join(&n))
                .collect()
        } else {
            vec![location]
        };
        for object in objects {
            let url = object.url().to_string();
            if !seen.contains_key(&url) {
                let bytes = object.get().map_err(Failure::run)?;
                let text = String::from_utf8_lossy(&bytes);
                let result = RunResult::from_json(&text, &url).map_err(Failure::usage)?;
                seen.insert(url.clone(), result);
            }
            names.push(url);
        }
    }
    Ok(names
        .into_iter()
        .filter_map(|n| seen.get(&n).map(|r| (n.clone(), r.clone())))
        .collect())
}

/// Shard indices with a complete result among `results`, each once.
fn complete_shards(results: &[(String, RunResult)]) -> Vec<u32> {
    let mut done: Vec<u32> = results
        .iter()
        .filter(|(_, r)| r.meta.status == RunStatus::Complete)
        .filter_map(|(_, r)| r.meta.shard.map(|t| t.index))
        .collect();
    done.sort_unstable();
    done.dedup();
    done
}

/// How often a waiting merge says how the shards it waits for are getting on.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The progress the shards still running report under the prefixes.
fn report_progress(inputs: &[String], results: &[(String, RunResult)]) {
    let complete = complete_shards(results);
    for prefix in inputs.iter().filter(|i| is_url(i) && i.ends_with('/')) {
        let Ok(location) = Location::parse(prefix) else {
            continue;
        };
        for p in crate::shard_progress::progress_under(&location) {
            if !complete.contains(&p.index) {
                eprintln!(
                    "loadcast: waiting for {}",
                    p.describe(loadcast_stats::time::now())
                );
            }
        }
    }
}

pub fn merge(args: MergeArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let deadline = std::time::Instant::now() + args.timeout;
    let mut seen = std::collections::BTreeMap::new();
    let mut last_report = std::time::Instant::now();
    let results = loop {
        let results = collect(&args.results, &mut seen)?;
        let want = args.wait.unwrap_or(0) as usize;
        if complete_shards(&results).len() >= want {
            break results;
        }
        if last_report.elapsed() >= PROGRESS_EVERY {
            last_report = std::time::Instant::now();
            report_progress(&args.results, &results);
        }
        if std::time::Instant::now() >= deadline {
            eprintln!(
                "WARNING: {} of {want} shards complete after waiting {}: merging what there is",
                complete_shards(&results).len(),
                humantime::format_duration(args.timeout)
            );
            break results;
        }
        std::thread::sleep(Duration::from_secs(2).min(args.timeout));
    };
    let merged = merge_shards(results).map_err(Failure::usage)?;
    for note in &merged.left_out {
        eprintln!("note: {note}");
    }
    let result = merged.result;
    let first_prefix = args.results.iter().find(|r| is_url(r) && r.ends_with('/'));
    let out = match (&args.out, first_prefix) {
        (Some(out), _) => out.clone(),
        (None, Some(prefix)) => format!("{prefix}merged.result.json"),
        (None, None) => "merged.result.json".into(),
    };
    if is_url(&out) {
        let location = Location::parse(&out).map_err(Failure::usage)?;
        location
            .put(result.to_json().into_bytes())
            .map_err(Failure::run)?;
    } else {
        result.save(Path::new(&out))?;
    }
    crate::store::record(store, loadcast_report::run_record(&result));
    print!("{}", loadcast_report::terminal_summary(&result));
    println!("\nmerged result written to {out}");
    crate::commands::write_run_outputs(&args.files, &result)?;
    if !merged.missing.is_empty() {
        let missing: Vec<String> = merged.missing.iter().map(u32::to_string).collect();
        eprintln!(
            "ERROR: shard(s) {} of {} have no complete result: the merged run lacks their load, and its thresholds are not a verdict",
            missing.join(", "),
            result.meta.shards + merged.missing.len() as u32
        );
        return Ok(crate::failure::exit::FAILED_TO_RUN);
    }
    Ok(crate::commands::exit_code(&result))
}

pub fn export_kubernetes(args: ExportKubernetesArgs) -> Result<u8, Failure> {
    let plan = loadcast_plan::load(&args.plan).map_err(Failure::usage)?;
    let options = loadcast_plan::kubernetes::KubernetesExport {
        shards: args.shards,
        image: args.image,
        out: args.out,
        name: args.name,
        namespace: args.namespace,
        start_at: args.start_at,
    };
    let exported = loadcast_plan::kubernetes::manifests(&plan, &options).map_err(Failure::usage)?;
    if let Some(inputs) = &exported.inputs {
        // The shards read these before anything is applied: upload them now.
        let prefix = Location::parse(inputs).map_err(Failure::usage)?;
        for (relative, local) in &exported.uploads {
            let bytes = std::fs::read(local)
                .map_err(|e| Failure::usage(format!("{}: {e}", local.display())))?;
            let object = relative
                .split('/')
                .filter(|s| !s.is_empty())
                .fold(prefix.clone(), |at, segment| at.join(segment));
            object.put(bytes).map_err(Failure::run)?;
        }
        eprintln!(
            "the plan's inputs outgrow a ConfigMap ({} KiB at most): uploaded the plan and {} file(s) to {inputs}; the shards read them from there",
            loadcast_plan::kubernetes::MAX_CONFIG_BYTES / 1024,
            exported.uploads.len() - 1
        );
    }
    let text = exported.manifests;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
            let (millicores, mebibytes) =
                loadcast_plan::kubernetes::shard_resources(&plan, options.shards);
            eprintln!(
                "wrote {}: {}an Indexed Job of {} shards ({millicores}m CPU, {mebibytes}Mi each) and a merge Job; kubectl apply -f {}",
                path.display(),
                if exported.inputs.is_some() {
                    ""
                } else {
                    "a ConfigMap, "
                },
                options.shards,
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(crate::failure::exit::PASSED)
}
