//! A plan as Kubernetes objects (`loadcast export kubernetes`): a ConfigMap with the plan and its
//! feeders (or, when they outgrow a ConfigMap, the plan and every file it names uploaded beside
//! the results, where `run URL` reads them), an Indexed Job whose pods each run one shard (`JOB_COMPLETION_INDEX` is the index,
//! so no wrapper script is needed) and write to object storage, and a Job that waits for every
//! shard and merges them. Kubernetes schedules and restarts; loadcast only splits and merges.
//!
//! Resource requests come from the plan: the per-shard peak rate (about one core per
//! 10,000 requests a second, from `bench/http.sh`'s single-generator figures) and the per-shard
//! users and connections (about 64 KiB each, buffers and session state).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::model::{Load, Plan};

/// What the objects need beyond the plan.
#[derive(Clone, Debug)]
pub struct KubernetesExport {
    pub shards: u32,
    /// The loadcast image (built from the repository's `Dockerfile`).
    pub image: String,
    /// Where the shards write and the merge reads: an object storage prefix.
    pub out: String,
    /// The objects' name prefix (a DNS label); the plan's name by default.
    pub name: Option<String>,
    pub namespace: Option<String>,
    /// A shared start (`--start-at`) for every shard, when known at export time.
    pub start_at: Option<String>,
}

/// Why a plan could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("--shards must be at least 1")]
    NoShards,
    #[error(
        "{0}: the shards must write to object storage (s3://, gs://, az://), which every pod and the merge can reach"
    )]
    NotObjectStorage(String),
    #[error("{path}: {cause}")]
    Read { path: String, cause: String },
}

/// What a ConfigMap may hold, with room to spare under Kubernetes' 1 MiB.
pub const MAX_CONFIG_BYTES: usize = 900 * 1024;

/// The export: the manifests, and the files to upload first when the plan's inputs outgrow a
/// ConfigMap.
#[derive(Clone, Debug)]
pub struct Exported {
    /// One multi-document YAML stream (each document JSON, which YAML reads), for
    /// `kubectl apply -f`.
    pub manifests: String,
    /// `(path relative to the plan, local file)`: to put under [`Exported::inputs`].
    pub uploads: Vec<(String, std::path::PathBuf)>,
    /// The object storage prefix the shards read the plan from (`OUT/inputs/`), when uploaded.
    pub inputs: Option<String>,
}

/// The objects for a plan, and what to upload before applying them.
pub fn manifests(plan: &Plan, options: &KubernetesExport) -> Result<Exported, ExportError> {
    let (objects, uploads, inputs) = objects(plan, options)?;
    let mut out = String::new();
    for object in objects {
        let _ = writeln!(out, "---");
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&object).unwrap_or_default()
        );
    }
    Ok(Exported {
        manifests: out,
        uploads,
        inputs,
    })
}

type Objects = (
    Vec<Value>,
    Vec<(String, std::path::PathBuf)>,
    Option<String>,
);

/// A DNS-1123 label from a plan name: lowercase letters, digits and dashes, at most 40.
fn label(name: &str) -> String {
    let mut out: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(40);
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "loadcast".into()
    } else {
        out
    }
}

/// Requests for one shard's pod: (CPU in millicores, memory in MiB).
pub fn shard_resources(plan: &Plan, shards: u32) -> (u64, u64) {
    let shards = f64::from(shards.max(1));
    let rate: f64 = plan
        .groups()
        .iter()
        .map(|g| match g.load {
            Load::Open(open) => open.peak_rate(),
            Load::Closed(_) => 0.0,
        })
        .sum();
    let users = plan.peak_users() as f64 / shards;
    let closed_rate_guess = plan.peak_closed_users() as f64 * 50.0;
    let per_shard_rate = (rate + closed_rate_guess) / shards;
    let millicores = (per_shard_rate / 10.0).clamp(250.0, 8000.0);
    // Each user holds a connection (its own by default) with its buffers and session.
    let mebibytes = 128.0 + users * 64.0 / 1024.0;
    (millicores.ceil() as u64, mebibytes.ceil() as u64)
}

fn objects(plan: &Plan, options: &KubernetesExport) -> Result<Objects, ExportError> {
    if options.shards == 0 {
        return Err(ExportError::NoShards);
    }
    if !["s3://", "gs://", "az://", "abfs://", "abfss://"]
        .iter()
        .any(|s| options.out.starts_with(s))
    {
        return Err(ExportError::NotObjectStorage(options.out.clone()));
    }
    let name = label(options.name.as_deref().unwrap_or(&plan.name));
    let plan_dir = plan.path.parent().unwrap_or(Path::new("."));
    let plan_text = std::fs::read_to_string(&plan.path).map_err(|e| ExportError::Read {
        path: plan.path.display().to_string(),
        cause: e.to_string(),
    })?;
    // ConfigMap keys cannot hold `/`: each file gets a key, and `items` puts it back at its
    // path relative to the plan.
    let mut data = serde_json::Map::new();
    let mut items = vec![json!({"key": "plan.toml", "path": "plan.toml"})];
    data.insert("plan.toml".into(), Value::String(plan_text.clone()));
    let mut total = plan_text.len();
    let mut fits = true;
    for (i, feeder) in plan.feeders.iter().enumerate() {
        let text = std::fs::read_to_string(&feeder.path).map_err(|e| ExportError::Read {
            path: feeder.path.display().to_string(),
            cause: e.to_string(),
        })?;
        total += text.len();
        fits &= total <= MAX_CONFIG_BYTES;
        let relative = feeder
            .path
            .strip_prefix(plan_dir)
            .unwrap_or(&feeder.path)
            .to_string_lossy()
            .into_owned();
        let key = format!("feeder-{i}");
        items.push(json!({"key": key, "path": relative}));
        data.insert(key, Value::String(text));
    }
    // Too large for a ConfigMap: the plan and every file it names go beside the results, and
    // each shard reads them from there.
    let (uploads, inputs) = if fits {
        (Vec::new(), None)
    } else {
        let prefix = format!("{}/inputs/", options.out.trim_end_matches('/'));
        let mut uploads = vec![("plan.toml".to_string(), plan.path.clone())];
        for relative in crate::referenced_files(&plan_text) {
            let local = plan_dir.join(&relative);
            if !uploads.iter().any(|(r, _)| *r == relative) {
                uploads.push((relative, local));
            }
        }
        (uploads, Some(prefix))
    };
    let metadata = |object: &str| {
        let mut m = json!({
            "name": format!("{name}-{object}"),
            "labels": {"app.kubernetes.io/name": "loadcast", "loadcast.dev/run": name},
        });
        if let Some(ns) = &options.namespace {
            m["namespace"] = Value::String(ns.clone());
        }
        m
    };
    let config = fits.then(|| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata("plan"),
            "data": data,
        })
    });
    let (millicores, mebibytes) = shard_resources(plan, options.shards);
    let volume =
        json!({"name": "plan", "configMap": {"name": format!("{name}-plan"), "items": items}});
    // Secrets the plan reads with `${env:…}` (a database password, a token) come from an
    // optional Secret of the user's.
    let env_from = json!([{"secretRef": {"name": format!("{name}-env"), "optional": true}}]);
    // The pods keep no run store of their own: results live in object storage.
    let mut run_args = vec![
        "--no-store".to_string(),
        "run".to_string(),
        inputs
            .as_ref()
            .map_or("/plan/plan.toml".to_string(), |p| format!("{p}plan.toml")),
        "--shards".into(),
        options.shards.to_string(),
        "-o".into(),
        options.out.clone(),
        "--progress".into(),
        "off".into(),
    ];
    if let Some(at) = &options.start_at {
        run_args.extend(["--start-at".to_string(), at.clone()]);
    }
    let pod_labels = json!({"app.kubernetes.io/name": "loadcast", "loadcast.dev/run": name, "loadcast.dev/role": "shard"});
    let shards = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata("shards"),
        "spec": {
            "completionMode": "Indexed",
            "completions": options.shards,
            "parallelism": options.shards,
            // A shard that fails runs again (a new attempt; the merge counts one complete
            // attempt per shard), at most twice, without failing the other shards.
            "backoffLimitPerIndex": 2,
            "maxFailedIndexes": options.shards,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"loadcast.dev/run": name, "loadcast.dev/role": "shard"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }]}},
                    "containers": [{
                        "name": "loadcast",
                        "image": options.image,
                        "args": run_args,
                        "envFrom": env_from,
                        "resources": {
                            "requests": {"cpu": format!("{millicores}m"), "memory": format!("{mebibytes}Mi")},
                            "limits": {"memory": format!("{}Mi", mebibytes * 2)},
                        },
                        "volumeMounts": if fits { json!([{"name": "plan", "mountPath": "/plan", "readOnly": true}]) } else { json!([]) },
                    }],
                    "volumes": if fits { json!([volume]) } else { json!([]) },
                },
            },
        },
    });
    let wait = plan.duration().as_secs() + 600;
    let merge = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata("merge"),
        "spec": {
            "backoffLimit": 2,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "loadcast", "loadcast.dev/run": name, "loadcast.dev/role": "merge"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "merge",
                        "image": options.image,
                        "args": ["--no-store", "merge", options.out, "--wait", options.shards.to_string(), "--timeout", format!("{wait}s")],
                        "envFrom": env_from,
                        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
                    }],
                },
            },
        },
    });
    Ok((
        config.into_iter().chain([shards, merge]).collect(),
        uploads,
        inputs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(label("Shop Checkout_v2"), "shop-checkout-v2");
        assert_eq!(label("***"), "loadcast");
    }
}
