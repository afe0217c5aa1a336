//! Every file loadcast writes for itself or for another command — run results, projections,
//! capacity studies — is a versioned JSON document: one `format` and `version` header checked
//! before anything else is read, errors that name the file, line and column, and atomic writes
//! (a reader never sees half a file) that replace only an earlier document of the same kind,
//! never a file of the user's that has the default name. [`unbounded`] lets an infinite figure
//! (a headroom with no demand, an interval with no upper end) be written and read back.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A document could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}:{line}:{column}: invalid {what}: {cause}")]
    Invalid {
        origin: String,
        what: &'static str,
        line: usize,
        column: usize,
        cause: String,
    },
    #[error("{origin}: not a loadcast {what} (expected \"format\": \"{expected}\", found {found})")]
    WrongFormat {
        origin: String,
        what: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error(
        "{origin}: {what} format version {} is not supported (this loadcast reads version {supported})",
        found.map_or("missing".to_string(), |v| v.to_string())
    )]
    Version {
        origin: String,
        what: &'static str,
        found: Option<u32>,
        supported: u32,
    },
    #[error(
        "{}: exists and is not a loadcast {what} ({found}): loadcast replaces only the files it wrote; move it, or write elsewhere with -o",
        path.display()
    )]
    NotOurs {
        path: PathBuf,
        what: &'static str,
        found: String,
    },
    #[error("{first}; the {what} is saved in {} instead", rescued.display())]
    Rescued {
        first: Box<DocumentError>,
        what: &'static str,
        rescued: PathBuf,
    },
    #[error("{first}; and in {} neither ({again}): the {what} is lost", rescued.display())]
    Lost {
        first: Box<DocumentError>,
        what: &'static str,
        rescued: PathBuf,
        again: Box<DocumentError>,
    },
}

/// A versioned JSON document.
pub trait Document: Serialize + DeserializeOwned {
    /// The `format` field.
    const FORMAT: &'static str;
    /// The version this build writes and reads.
    const VERSION: u32;
    /// What it is, for people: "run result", "capacity study".
    const WHAT: &'static str;

    fn to_json(&self) -> String {
        // Our own types with string keys only: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Reads a document; `origin` (a file, `run #12`) names where the text came from.
    fn from_json(text: &str, origin: &str) -> Result<Self, DocumentError> {
        #[derive(serde::Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        let invalid = |e: serde_json::Error| DocumentError::Invalid {
            origin: origin.to_string(),
            what: Self::WHAT,
            line: e.line(),
            column: e.column(),
            cause: e.to_string(),
        };
        let header: Header = serde_json::from_str(text).map_err(invalid)?;
        if header.format.as_deref() != Some(Self::FORMAT) {
            return Err(DocumentError::WrongFormat {
                origin: origin.to_string(),
                what: Self::WHAT,
                expected: Self::FORMAT,
                found: header
                    .format
                    .map_or("no format field".to_string(), |f| format!("{f:?}")),
            });
        }
        if header.version != Some(Self::VERSION) {
            return Err(DocumentError::Version {
                origin: origin.to_string(),
                what: Self::WHAT,
                found: header.version,
                supported: Self::VERSION,
            });
        }
        serde_json::from_str(text).map_err(invalid)
    }

    fn load(path: &Path) -> Result<Self, DocumentError> {
        let text = fs::read_to_string(path).map_err(|source| DocumentError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Whether a document of this kind may be written at `path`: nothing is there, or what is
    /// there is a document of this kind (an earlier run's), never a file of the user's that
    /// happens to have the default name.
    fn check_replaceable(path: &Path) -> Result<(), DocumentError> {
        let found = match fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(DocumentError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Ok(bytes) => std::str::from_utf8(&bytes).ok().and_then(format_of),
        };
        if found.as_deref() == Some(Self::FORMAT) {
            return Ok(());
        }
        Err(DocumentError::NotOurs {
            path: path.to_path_buf(),
            what: Self::WHAT,
            found: found.map_or("no loadcast format field".to_string(), |f| {
                format!("its format is {f:?}")
            }),
        })
    }

    /// Writes atomically: a temporary file beside it, then a rename; over an earlier document
    /// of this kind only ([`Document::check_replaceable`]).
    fn save(&self, path: &Path) -> Result<(), DocumentError> {
        Self::check_replaceable(path)?;
        let io_err = |source| DocumentError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let written = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(self.to_json().as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if written.is_err() {
            // A full disk leaves half a file: it is ours, and worth nothing.
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(io_err)
    }

    /// Saves at `path` or, when that fails after the work is done (a disk that filled up, a
    /// directory removed meanwhile), as `fallback_name` in the temporary directory: the error
    /// then says where it went ([`DocumentError::Rescued`]), and a measurement is not lost to
    /// its path.
    fn save_or_rescue(&self, path: &Path, fallback_name: &str) -> Result<(), DocumentError> {
        let Err(first) = self.save(path) else {
            return Ok(());
        };
        let rescued = std::env::temp_dir().join(fallback_name);
        let first = Box::new(first);
        Err(match self.save(&rescued) {
            Ok(()) => DocumentError::Rescued {
                first,
                what: Self::WHAT,
                rescued,
            },
            Err(again) => DocumentError::Lost {
                first,
                what: Self::WHAT,
                rescued,
                again: Box::new(again),
            },
        })
    }
}

/// Whether a file can be written at `path`, found by creating (never over anything that
/// exists) and removing a file of loadcast's own beside it. Asked before a run, so that a
/// result is not measured only to be lost.
pub fn check_writable(path: &Path) -> Result<(), DocumentError> {
    let mut probe = path.as_os_str().to_owned();
    probe.push(format!(".loadcast-probe-{}", std::process::id()));
    let probe = PathBuf::from(probe);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|source| DocumentError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// The `format` field of a JSON text, if it has one: which document it is.
pub fn format_of(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Header {
        format: Option<String>,
    }
    serde_json::from_str::<Header>(text).ok()?.format
}

/// `#[serde(with = "loadcast_stats::document::unbounded")]` on an `f64` that may be infinite:
/// JSON has no infinity, so ±∞ and NaN are written as `null` and `null` reads back as +∞ (the
/// only non-finite value loadcast's figures take: "no upper bound", "no demand").
/// A figure that may be undefined (a MAPE over zeros, a MASE whose scale is zero): `null` in
/// JSON, NaN in memory. Use as `#[serde(with = "loadcast_stats::document::undefined")]`.
pub mod undefined {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            s.serialize_f64(*value)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

pub mod unbounded {
    use serde::{Deserialize, Deserializer};

    /// Written as an undefined figure is: `null` when not finite.
    pub use super::undefined::serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }

    /// A figure left out reads as one written as `null`: unbounded. Pair it with `with` as
    /// `default = "loadcast_stats::document::unbounded::infinite"`.
    pub fn infinite() -> f64 {
        f64::INFINITY
    }
}
