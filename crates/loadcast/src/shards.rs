//! `run --shard I/N` and `loadcast merge`: which shard this process runs, when the shards
//! start, and the merge of their results (the product logic is `loadcast_stats::shard`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use loadcast_stats::shard::{ShardTag, merge_shards};
use loadcast_stats::{Document, RunResult};

use crate::cli::{MergeArgs, RunArgs, StoreArgs};
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

/// `shop.result.json` → `shop.shard-2-of-4.result.json`.
pub fn shard_path(whole: &Path, index: u32, count: u32) -> PathBuf {
    let name = whole
        .file_name()
        .map_or("loadcast".into(), |n| n.to_string_lossy().into_owned());
    let stem = name.strip_suffix(".result.json").unwrap_or(&name);
    whole.with_file_name(format!("{stem}.shard-{index}-of-{count}.result.json"))
}

pub fn merge(args: MergeArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let mut results = Vec::with_capacity(args.results.len());
    for path in &args.results {
        let result = RunResult::load(path).map_err(Failure::usage)?;
        results.push((path.display().to_string(), result));
    }
    let merged = merge_shards(results).map_err(Failure::usage)?;
    for note in &merged.left_out {
        eprintln!("note: {note}");
    }
    let result = merged.result;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("merged.result.json"));
    result.save(&out)?;
    crate::store::record(store, loadcast_report::run_record(&result));
    print!("{}", loadcast_report::terminal_summary(&result));
    println!("\nmerged result written to {}", out.display());
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
