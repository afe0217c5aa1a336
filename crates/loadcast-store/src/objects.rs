//! Where result files live when they are not next to the command: a local directory, or an
//! object storage prefix — `s3://bucket/run-id/`, `gs://…`, `az://…`, `file:///…` — through the
//! `object_store` crate, so that shards on many machines write to one place and `merge` reads
//! them there. Credentials and endpoints come from the usual environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, `GOOGLE_SERVICE_ACCOUNT`,
//! `AZURE_STORAGE_ACCOUNT_NAME`…). The calls block: each runs on a runtime of its own.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

/// A failure reaching object storage, with the URL it was about.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error("{url}: {cause}")]
    Url { url: String, cause: String },
    #[error("{url}: {cause}")]
    Storage { url: String, cause: String },
}

/// Whether `text` names object storage rather than a local path.
pub fn is_url(text: &str) -> bool {
    [
        "s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://", "file://",
    ]
    .iter()
    .any(|scheme| text.starts_with(scheme))
        || (text.starts_with("https://") && text.contains(".blob.core.windows.net"))
}

/// An object storage prefix (a "directory"), or one object.
#[derive(Clone)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    url: String,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

fn runtime(url: &str) -> Result<tokio::runtime::Runtime, ObjectsError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ObjectsError::Storage {
            url: url.to_string(),
            cause: e.to_string(),
        })
}

impl Location {
    /// The store and path a URL names; its options from the environment.
    pub fn parse(text: &str) -> Result<Self, ObjectsError> {
        let bad = |cause: String| ObjectsError::Url {
            url: text.to_string(),
            cause,
        };
        let url = url::Url::parse(text).map_err(|e| bad(e.to_string()))?;
        let options = std::env::vars().filter_map(|(k, v)| {
            ["AWS_", "GOOGLE_", "AZURE_"]
                .iter()
                .any(|p| k.starts_with(p))
                .then(|| (k.to_ascii_lowercase(), v))
        });
        let (store, path) =
            object_store::parse_url_opts(&url, options).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            store: Arc::from(store),
            path,
            url: text.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The object `name` under this prefix.
    pub fn join(&self, name: &str) -> Location {
        let url = if self.url.ends_with('/') {
            format!("{}{name}", self.url)
        } else {
            format!("{}/{name}", self.url)
        };
        Location {
            store: self.store.clone(),
            path: self.path.child(name),
            url,
        }
    }

    fn failed(&self, e: impl std::fmt::Display) -> ObjectsError {
        ObjectsError::Storage {
            url: self.url.clone(),
            cause: e.to_string(),
        }
    }

    /// Writes this object (whole: a reader never sees half of it).
    pub fn put(&self, bytes: Vec<u8>) -> Result<(), ObjectsError> {
        runtime(&self.url)?
            .block_on(self.store.put(&self.path, bytes.into()))
            .map(drop)
            .map_err(|e| self.failed(e))
    }

    /// Reads this object.
    pub fn get(&self) -> Result<Vec<u8>, ObjectsError> {
        runtime(&self.url)?.block_on(async {
            let got = self
                .store
                .get(&self.path)
                .await
                .map_err(|e| self.failed(e))?;
            got.bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| self.failed(e))
        })
    }

    /// The names of the objects directly under this prefix, sorted.
    pub fn list(&self) -> Result<Vec<String>, ObjectsError> {
        runtime(&self.url)?.block_on(async {
            let listed = self
                .store
                .list_with_delimiter(Some(&self.path))
                .await
                .map_err(|e| self.failed(e))?;
            let mut names: Vec<String> = listed
                .objects
                .into_iter()
                .filter_map(|o| o.location.filename().map(str::to_string))
                .collect();
            names.sort();
            Ok(names)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_url_is_written_listed_and_read() {
        let dir = std::env::temp_dir().join(format!("loadcast-objects-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prefix = Location::parse(&format!("file://{}/", dir.display())).unwrap();
        prefix.join("b.json").put(b"{}".to_vec()).unwrap();
        prefix.join("a.json").put(b"[1]".to_vec()).unwrap();
        assert_eq!(prefix.list().unwrap(), ["a.json", "b.json"]);
        assert_eq!(prefix.join("a.json").get().unwrap(), b"[1]");
        let missing = prefix.join("c.json").get().unwrap_err().to_string();
        assert!(missing.contains("c.json"), "{missing}");
        assert!(is_url("s3://bucket/run/") && !is_url("results/run.json"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
