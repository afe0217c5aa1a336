//! Shards of one scaled-out run (`loadcast run --shard I/N` on N machines): which shard a
//! result is, and the merge that takes exactly one complete attempt of each shard — a shard
//! that died and ran again is counted once — then evaluates the thresholds on the merged
//! result, never per shard.

use serde::{Deserialize, Serialize};

use crate::result::{GeneratorStats, RunResult, RunStatus};

/// Shard `index` of `count` (from 0), and which attempt of it this result is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardTag {
    pub index: u32,
    pub count: u32,
    /// When the attempt started (Unix milliseconds): a rerun of a shard is a later attempt.
    pub attempt: u64,
}

impl ShardTag {
    /// `I/N` (`2/4`: the third of four), as `--shard` takes it.
    pub fn parse(text: &str) -> Result<(u32, u32), String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a shard: INDEX/COUNT, e.g. 0/4"))?;
        let i: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("{i:?} is not a shard index"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} is not a shard count"))?;
        if n == 0 || i >= n {
            return Err(format!(
                "shard {i} of {n}: the index runs from 0 to {}",
                n.saturating_sub(1)
            ));
        }
        Ok((i, n))
    }
}

/// How far a shard has got, written beside its results while it runs (`run -o PREFIX/`), so a
/// merge that waits can say which shards are behind and whether they still move. One object per
/// shard index: a restarted shard's attempt overwrites its predecessor's progress (its result
/// keeps its own object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardProgress {
    pub plan_name: String,
    pub index: u32,
    pub count: u32,
    /// When this attempt began reporting (RFC 3339) and last reported.
    pub started_at: String,
    pub updated_at: String,
    pub elapsed_seconds: f64,
    pub planned_seconds: f64,
    pub sent: u64,
    pub completed: u64,
    pub errors: u64,
    /// The run ended (its result follows under its own name).
    pub finished: bool,
}

impl ShardProgress {
    /// `shop.shard-2-of-4.progress.json`.
    pub fn object_name(plan_name: &str, index: u32, count: u32) -> String {
        format!("{plan_name}.shard-{index}-of-{count}.progress.json")
    }

    /// One line for people: `shard 2/4: 40 s of 60 s, 2010 requests, 0 errors (updated 3 s ago)`.
    pub fn describe(&self, now: i64) -> String {
        let age = crate::time::parse_time(&self.updated_at).map_or(String::new(), |t| {
            format!(" (updated {} s ago)", (now - t).max(0))
        });
        format!(
            "shard {}/{}: {:.0} s of {:.0} s, {} requests, {} errors{}{age}",
            self.index,
            self.count,
            self.elapsed_seconds,
            self.planned_seconds,
            self.completed,
            self.errors,
            if self.finished { ", finished" } else { "" }
        )
    }
}

/// One merged shard's own figures: a generator that could not keep up shows here even when
/// the global figures look healthy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardHealth {
    pub index: u32,
    pub attempt: u64,
    pub started_at: String,
    pub elapsed_seconds: f64,
    pub requests: u64,
    pub errors: u64,
    pub generator: GeneratorStats,
}

impl ShardHealth {
    fn of(tag: ShardTag, result: &RunResult) -> Self {
        let total = result.total();
        Self {
            index: tag.index,
            attempt: tag.attempt,
            started_at: result.meta.started_at.clone(),
            elapsed_seconds: result.meta.elapsed_seconds,
            requests: total.count,
            errors: total.error_count(),
            generator: result.generator.clone(),
        }
    }
}

/// Why shards could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("{0} is not a shard result (it was not run with --shard)")]
    NotAShard(String),
    #[error("{first} is shard of {a}, {other} of {b}: not the same scaled-out run")]
    Counts {
        first: String,
        a: u32,
        other: String,
        b: u32,
    },
    #[error("{0}")]
    Differ(String),
    #[error("no shard results given")]
    Empty,
}

/// Shards merged: the result, and what the merge had to leave out.
#[derive(Debug)]
pub struct Merged {
    pub result: RunResult,
    /// Shard indices with no complete attempt: the merged result lacks their load.
    pub missing: Vec<u32>,
    /// Attempts left out, in words (an interrupted attempt, an earlier one of a rerun shard).
    pub left_out: Vec<String>,
}

/// Merges `results` (each named for messages) as shards of one run: per shard index the last
/// complete attempt (else the last attempt, said so), histograms and counts added, seconds
/// aligned by the wall clock, and the thresholds (from the shards' own) evaluated on the whole.
pub fn merge_shards(results: Vec<(String, RunResult)>) -> Result<Merged, ShardError> {
    let mut tagged = Vec::with_capacity(results.len());
    for (name, result) in results {
        let tag = result
            .meta
            .shard
            .ok_or_else(|| ShardError::NotAShard(name.clone()))?;
        tagged.push((name, tag, result));
    }
    let Some((first_name, first_tag, _)) = tagged.first() else {
        return Err(ShardError::Empty);
    };
    let (first_name, count) = (first_name.clone(), first_tag.count);
    if let Some((other, tag, _)) = tagged.iter().find(|(_, t, _)| t.count != count) {
        return Err(ShardError::Counts {
            first: first_name,
            a: count,
            other: other.clone(),
            b: tag.count,
        });
    }
    let mut chosen: Vec<(String, RunResult)> = Vec::new();
    let mut health = Vec::new();
    let mut missing = Vec::new();
    let mut left_out = Vec::new();
    for index in 0..count {
        let mut attempts: Vec<&(String, ShardTag, RunResult)> =
            tagged.iter().filter(|(_, t, _)| t.index == index).collect();
        attempts.sort_by_key(|(_, t, r)| (r.meta.status == RunStatus::Complete, t.attempt));
        let Some((name, _, result)) = attempts.pop() else {
            missing.push(index);
            continue;
        };
        if result.meta.status != RunStatus::Complete {
            missing.push(index);
            left_out.push(format!(
                "shard {index}: no complete attempt ({name} was interrupted); its load is missing"
            ));
            continue;
        }
        for (other, _, r) in &attempts {
            let why = if r.meta.status == RunStatus::Complete {
                "an earlier attempt"
            } else {
                "an interrupted attempt"
            };
            left_out.push(format!("shard {index}: {other} left out ({why})"));
        }
        if let Some(tag) = result.meta.shard {
            health.push(ShardHealth::of(tag, result));
        }
        chosen.push((name.clone(), result.clone()));
    }
    let mut chosen = chosen.into_iter();
    let Some((_, mut merged)) = chosen.next() else {
        return Ok(Merged {
            result: tagged.swap_remove(0).2,
            missing,
            left_out,
        });
    };
    let thresholds: Vec<crate::Threshold> = merged
        .thresholds
        .iter()
        .map(|t| t.threshold.clone())
        .collect();
    for (name, shard) in chosen {
        merged
            .merge_shard(&shard, false)
            .map_err(|e| ShardError::Differ(format!("{name}: {e}")))?;
    }
    merged.meta.shard = None;
    merged.shard_health = health;
    merged.thresholds = crate::slo::evaluate(&thresholds, &merged);
    Ok(Merged {
        result: merged,
        missing,
        left_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(index: u32, attempt: u64, status: RunStatus, requests: u64) -> (String, RunResult) {
        let mut r = RunResult::new(crate::RunMeta {
            plan_name: "p".into(),
            plan_hash: "h".into(),
            target: "http://127.0.0.1:1".into(),
            model: "open".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            planned_seconds: 1.0,
            elapsed_seconds: 1.0,
            status,
            loadcast_version: "test".into(),
            shards: 1,
            shard: Some(ShardTag {
                index,
                count: 3,
                attempt,
            }),
        });
        let mut stats = crate::RequestStats::new("GET /");
        stats.count = requests;
        stats.ok = requests;
        r.requests.push(stats);
        (format!("shard-{index}-attempt-{attempt}"), r)
    }

    #[test]
    fn each_shard_counts_once_and_a_missing_one_is_named() {
        let merged = merge_shards(vec![
            shard(0, 1, RunStatus::Complete, 100),
            // Shard 1 was killed, then ran again: only the complete attempt counts, even
            // though the killed one is later in the list.
            shard(1, 5, RunStatus::Complete, 100),
            shard(1, 9, RunStatus::Interrupted, 40),
            shard(1, 2, RunStatus::Complete, 100),
        ])
        .unwrap();
        assert_eq!(merged.result.total().count, 200);
        assert_eq!(merged.result.meta.shards, 2);
        let health: Vec<(u32, u64, u64)> = merged
            .result
            .shard_health
            .iter()
            .map(|h| (h.index, h.attempt, h.requests))
            .collect();
        assert_eq!(health, [(0, 1, 100), (1, 5, 100)]);
        assert_eq!(merged.missing, [2]);
        assert_eq!(merged.left_out.len(), 2, "{:?}", merged.left_out);
        assert!(
            merged
                .left_out
                .iter()
                .any(|n| n.contains("attempt-9") && n.contains("interrupted"))
        );
        assert!(
            merged
                .left_out
                .iter()
                .any(|n| n.contains("attempt-2") && n.contains("earlier"))
        );
        assert!(matches!(
            merge_shards(vec![(
                "whole".into(),
                RunResult::new(crate::RunMeta {
                    shard: None,
                    ..shard(0, 0, RunStatus::Complete, 1).1.meta
                })
            )]),
            Err(ShardError::NotAShard(_))
        ));
    }

    #[test]
    fn a_shard_is_index_over_count() {
        assert_eq!(ShardTag::parse("2/4"), Ok((2, 4)));
        assert!(ShardTag::parse("4/4").unwrap_err().contains("from 0 to 3"));
        assert!(ShardTag::parse("1").is_err());
        assert!(ShardTag::parse("0/0").is_err());
    }
}
