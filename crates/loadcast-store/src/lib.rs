//! loadcast's run history: every run, capacity study and forecast, saved in SQLite with the
//! plan's content hash, start and end, the environment (loadcast version, machine) and the full
//! result as JSON (histograms included, so a report re-renders exactly). It is also history for
//! later plans: `loadcast plan init` reads the last capacity and SLOs from here.
//!
//! The schema is versioned with SQLite's `user_version`; migrations run in order, each in its
//! own transaction, when a store is opened.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("loadcast-store-doc-{}", std::process::id()));
//! let store = loadcast_store::Store::open(&dir.join("runs.db")).unwrap();
//! let id = store.save(&loadcast_store::NewRecord {
//!     kind: loadcast_store::Kind::Forecast, plan_name: "shop".into(), plan_hash: "abc".into(),
//!     started_at: "2026-11-24T10:00:00Z".into(), ended_at: "2026-11-24T10:00:01Z".into(),
//!     status: "complete".into(), headline: "orders +140%".into(), body: "{}".into(),
//! }).unwrap();
//! assert_eq!(store.get(id).unwrap().plan_name, "shop");
//! ```

pub mod objects;

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// The store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {cause}", path.display())]
    Open { path: PathBuf, cause: String },
    #[error("run store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("no record {0} in the run store")]
    NotFound(i64),
    #[error("the run store {} has schema version {found}, newer than this loadcast knows ({known}); upgrade loadcast", path.display())]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Run,
    Capacity,
    Forecast,
    Watch,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Capacity => "capacity",
            Kind::Forecast => "forecast",
            Kind::Watch => "watch",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "run" => Kind::Run,
            "capacity" => Kind::Capacity,
            "forecast" => Kind::Forecast,
            "watch" => Kind::Watch,
            _ => return None,
        })
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text).ok_or_else(|| format!("{text:?}: one of run, capacity, forecast, watch"))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A record to save.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRecord {
    pub kind: Kind,
    pub plan_name: String,
    pub plan_hash: String,
    pub started_at: String,
    pub ended_at: String,
    pub status: String,
    /// One line for listings ("812/s, p99 41ms, 0.0% errors").
    pub headline: String,
    /// The full result, study or projection as JSON.
    pub body: String,
}

/// A saved record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: i64,
    pub kind: Kind,
    pub plan_name: String,
    pub plan_hash: String,
    pub started_at: String,
    pub ended_at: String,
    pub status: String,
    pub headline: String,
    pub loadcast_version: String,
    /// `host (N CPUs, os)`.
    pub machine: String,
    pub body: String,
}

/// The schema, one migration per version (index + 1).
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('run', 'capacity', 'forecast')),
        plan_name TEXT NOT NULL,
        plan_hash TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        status TEXT NOT NULL,
        loadcast_version TEXT NOT NULL,
        machine TEXT NOT NULL,
        body TEXT NOT NULL
     );
     CREATE INDEX records_by_plan ON records (plan_name, kind, id);",
    "ALTER TABLE records ADD COLUMN headline TEXT NOT NULL DEFAULT '';",
    // `watch` cycles: SQLite cannot change a CHECK, so the table is rebuilt with every row.
    "CREATE TABLE records_v3 (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('run', 'capacity', 'forecast', 'watch')),
        plan_name TEXT NOT NULL,
        plan_hash TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        status TEXT NOT NULL,
        loadcast_version TEXT NOT NULL,
        machine TEXT NOT NULL,
        body TEXT NOT NULL,
        headline TEXT NOT NULL DEFAULT ''
     );
     INSERT INTO records_v3 (id, kind, plan_name, plan_hash, started_at, ended_at, status,
                             loadcast_version, machine, body, headline)
         SELECT id, kind, plan_name, plan_hash, started_at, ended_at, status,
                loadcast_version, machine, body, headline FROM records;
     DROP TABLE records;
     ALTER TABLE records_v3 RENAME TO records;
     CREATE INDEX records_by_plan ON records (plan_name, kind, id);",
];

/// The machine this process runs on, for the record.
fn machine() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{host} ({cpus} CPUs, {})", std::env::consts::OS)
}

/// The run history.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// `$LOADCAST_STORE`, else `$XDG_DATA_HOME/loadcast/runs.db`, else
    /// `~/.local/share/loadcast/runs.db`.
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("LOADCAST_STORE") {
            return PathBuf::from(p);
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("loadcast").join("runs.db")
    }

    /// Opens (creating it and its directory if needed) and migrates a store.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |cause: String| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
            tx.commit()?;
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Saves a record; returns its id.
    pub fn save(&self, r: &NewRecord) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO records (kind, plan_name, plan_hash, started_at, ended_at, status, \
             loadcast_version, machine, body, headline) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                r.kind.name(),
                r.plan_name,
                r.plan_hash,
                r.started_at,
                r.ended_at,
                r.status,
                env!("CARGO_PKG_VERSION"),
                machine(),
                r.body,
                r.headline
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    const COLUMNS: &'static str = "id, kind, plan_name, plan_hash, started_at, ended_at, status, \
                                   headline, loadcast_version, machine";

    fn row(r: &rusqlite::Row<'_>, body: bool) -> rusqlite::Result<Record> {
        let kind: String = r.get(1)?;
        Ok(Record {
            id: r.get(0)?,
            kind: Kind::parse(&kind).unwrap_or(Kind::Run),
            plan_name: r.get(2)?,
            plan_hash: r.get(3)?,
            started_at: r.get(4)?,
            ended_at: r.get(5)?,
            status: r.get(6)?,
            headline: r.get(7)?,
            loadcast_version: r.get(8)?,
            machine: r.get(9)?,
            body: if body { r.get(10)? } else { String::new() },
        })
    }

    /// The newest records first, without their bodies.
    pub fn list(&self, kind: Option<Kind>, limit: usize) -> Result<Vec<Record>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {} FROM records WHERE (?1 IS NULL OR kind = ?1) ORDER BY id DESC LIMIT ?2",
            Self::COLUMNS
        ))?;
        let rows = stmt
            .query_map(params![kind.map(Kind::name), limit as i64], |r| {
                Self::row(r, false)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn get(&self, id: i64) -> Result<Record, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {}, body FROM records WHERE id = ?1", Self::COLUMNS),
                [id],
                |r| Self::row(r, true),
            )
            .optional()?
            .ok_or(StoreError::NotFound(id))
    }

    /// The newest record of a kind, for a plan when named.
    pub fn latest(
        &self,
        kind: Kind,
        plan_name: Option<&str>,
    ) -> Result<Option<Record>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {}, body FROM records WHERE kind = ?1 AND (?2 IS NULL OR plan_name = ?2) \
                     ORDER BY id DESC LIMIT 1",
                    Self::COLUMNS
                ),
                params![kind.name(), plan_name],
                |r| Self::row(r, true),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: Kind, plan: &str) -> NewRecord {
        NewRecord {
            kind,
            plan_name: plan.into(),
            plan_hash: "h".into(),
            started_at: "2026-11-24T10:00:00Z".into(),
            ended_at: "2026-11-24T10:01:00Z".into(),
            status: "complete".into(),
            headline: "812/s".into(),
            body: "{\"x\": 1}".into(),
        }
    }

    #[test]
    fn migrates_saves_lists_and_finds_the_latest() {
        let path = std::env::temp_dir().join(format!(
            "loadcast-store-{}/nested/runs.db",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let a = store.save(&record(Kind::Run, "shop")).unwrap();
        let b = store.save(&record(Kind::Capacity, "shop")).unwrap();
        let c = store.save(&record(Kind::Run, "other")).unwrap();
        assert!(a < b && b < c);
        let all = store.list(None, 10).unwrap();
        assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [c, b, a]);
        assert!(all[0].body.is_empty(), "listings leave bodies out");
        assert_eq!(store.list(Some(Kind::Run), 10).unwrap().len(), 2);
        let got = store.get(a).unwrap();
        assert_eq!(
            (got.body.as_str(), got.headline.as_str()),
            ("{\"x\": 1}", "812/s")
        );
        assert!(got.machine.contains("CPUs"));
        assert_eq!(
            store.latest(Kind::Run, Some("shop")).unwrap().unwrap().id,
            a
        );
        assert_eq!(store.latest(Kind::Forecast, None).unwrap(), None);
        assert!(matches!(store.get(999), Err(StoreError::NotFound(999))));
        // Reopening keeps everything and runs no migration twice.
        drop(store);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.list(None, 10).unwrap().len(), 3);
        // A store written by a newer loadcast is refused, not misread.
        again
            .conn
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        drop(again);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn a_store_of_the_version_before_watch_keeps_every_record_and_takes_watch_cycles() {
        let dir = std::env::temp_dir().join(format!("loadcast-store-v2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.db");
        {
            // The schema as version 2 left it, with a record in it.
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..2] {
                conn.execute_batch(migration).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 2;
                 INSERT INTO records (kind, plan_name, plan_hash, started_at, ended_at, status,
                                      loadcast_version, machine, body, headline)
                 VALUES ('capacity', 'shop', 'h', 's', 'e', 'complete', '0.1', 'm', '{}', '500/s');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 3);
        let old = store.latest(Kind::Capacity, Some("shop")).unwrap().unwrap();
        assert_eq!((old.id, old.headline.as_str()), (1, "500/s"));
        let watch = store.save(&record(Kind::Watch, "shop")).unwrap();
        assert_eq!(watch, 2);
        assert_eq!(store.list(Some(Kind::Watch), 10).unwrap().len(), 1);
        assert_eq!("watch".parse::<Kind>(), Ok(Kind::Watch));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
