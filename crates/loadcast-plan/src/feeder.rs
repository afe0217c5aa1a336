//! Per-user data files (feeders): CSV with a header row, or JSON lines (one object per line).
//!
//! A feeder is read once, when the plan loads, into one string with cell offsets: every virtual
//! user shares it (an `Arc`) and holds only a row number, so a 100,000-row file costs its size
//! once, not once per user.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How virtual users take rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeederStrategy {
    /// Each virtual user takes its own row and keeps it for its whole life (its identity).
    Unique,
    /// Each iteration takes the next row in file order, run-wide; each row is used once, and
    /// iterations stop when the file is used up.
    Sequential,
    /// Each iteration takes a row at random.
    Random,
    /// Each iteration takes the next row in file order, run-wide, starting over at the end.
    Circular,
}

impl FeederStrategy {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "unique" => Self::Unique,
            "sequential" => Self::Sequential,
            "random" => Self::Random,
            "circular" => Self::Circular,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Unique => "unique",
            Self::Sequential => "sequential",
            Self::Random => "random",
            Self::Circular => "circular",
        }
    }

    /// Whether the row belongs to the user (chosen once) rather than to each iteration.
    pub fn is_per_user(self) -> bool {
        self == Self::Unique
    }
}

/// A feeder declared in the plan: `[feeders.NAME]`, used as `{{NAME.column}}`.
#[derive(Clone, Debug)]
pub struct Feeder {
    pub name: String,
    pub path: PathBuf,
    pub strategy: FeederStrategy,
    /// `unique` only: allow more virtual users than rows (rows are then shared, and a lint says so).
    pub reuse: bool,
    /// Columns whose values are credentials (`secret = ["password"]`): never sent in a URL
    /// (servers log URLs; a lint says so), never shown.
    pub secret: Vec<String>,
    pub data: Arc<FeederData>,
}

/// The rows of a feeder file, stored once.
#[derive(Clone, PartialEq, Eq)]
pub struct FeederData {
    columns: Vec<String>,
    text: String,
    /// Cell `c` of row `r` is `text[offsets[i]..offsets[i + 1]]` with `i = r * columns + c`.
    offsets: Vec<usize>,
}

impl fmt::Debug for FeederData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeederData")
            .field("columns", &self.columns)
            .field("rows", &self.rows())
            .finish()
    }
}

/// A feeder file could not be read: the file, the line and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {cause}", path.display(), line.map_or(String::new(), |l| format!(":{l}")))]
pub struct FeederError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub cause: String,
}

impl FeederData {
    fn new(columns: Vec<String>) -> Self {
        Self {
            columns,
            text: String::new(),
            offsets: vec![0],
        }
    }

    fn push_cell(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.offsets.push(self.text.len());
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub fn rows(&self) -> usize {
        (self.offsets.len() - 1)
            .checked_div(self.columns.len())
            .unwrap_or(0)
    }

    pub fn cell(&self, row: usize, column: usize) -> &str {
        let i = row * self.columns.len() + column;
        &self.text[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Number of distinct values in a column (for lints: a column of identical passwords is fine,
    /// a column of identical emails is one user).
    pub fn distinct(&self, column: usize) -> usize {
        let mut values: Vec<&str> = (0..self.rows()).map(|r| self.cell(r, column)).collect();
        values.sort_unstable();
        values.dedup();
        values.len()
    }

    /// Reads a CSV file (with a header row) or, for `.jsonl`/`.ndjson`, JSON lines.
    pub fn load(path: &Path) -> Result<Self, FeederError> {
        let error = |line: Option<u64>, cause: String| FeederError {
            path: path.to_path_buf(),
            line,
            cause,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(None, e.to_string()))?;
        let is_jsonl = path
            .extension()
            .is_some_and(|e| e == "jsonl" || e == "ndjson");
        let data = if is_jsonl {
            Self::from_json_lines(&text).map_err(|(line, cause)| error(Some(line), cause))?
        } else {
            Self::from_csv(&text).map_err(|(line, cause)| error(line, cause))?
        };
        if data.rows() == 0 {
            return Err(error(None, "the file has no data rows".into()));
        }
        Ok(data)
    }

    fn from_csv(text: &str) -> Result<Self, (Option<u64>, String)> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::Headers)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| (Some(1), e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        if headers.iter().any(String::is_empty) {
            return Err((Some(1), "the header row has an empty column name".into()));
        }
        let mut data = Self::new(headers);
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    for cell in record.iter() {
                        data.push_cell(cell);
                    }
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line());
                    let cause = match e.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => format!("{len} fields where the header has {expected_len}"),
                        _ => e.to_string(),
                    };
                    return Err((line, cause));
                }
            }
        }
        Ok(data)
    }

    fn from_json_lines(text: &str) -> Result<Self, (u64, String)> {
        let mut objects = Vec::new();
        let mut columns: Vec<String> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let line_no = i as u64 + 1;
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| (line_no, e.to_string()))?;
            let serde_json::Value::Object(object) = value else {
                return Err((line_no, "expected a JSON object per line".into()));
            };
            for key in object.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
            objects.push(object);
        }
        let mut data = Self::new(columns.clone());
        for object in &objects {
            for column in &columns {
                match object.get(column) {
                    None | Some(serde_json::Value::Null) => data.push_cell(""),
                    Some(serde_json::Value::String(s)) => data.push_cell(s),
                    Some(other) => data.push_cell(&other.to_string()),
                }
            }
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("loadcast-feeder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn csv_and_json_lines() {
        let csv = FeederData::load(&write(
            "u.csv",
            "email,password\na@x.io,\"p,1\"\nb@x.io,p2\n",
        ))
        .unwrap();
        assert_eq!(csv.rows(), 2);
        assert_eq!(csv.cell(0, 1), "p,1");
        assert_eq!(csv.cell(1, csv.column("email").unwrap()), "b@x.io");
        let jsonl = FeederData::load(&write(
            "u.jsonl",
            "{\"email\":\"a@x.io\",\"id\":1}\n\n{\"email\":\"b@x.io\",\"tier\":\"gold\"}\n",
        ))
        .unwrap();
        assert_eq!(jsonl.columns(), ["email", "id", "tier"]);
        assert_eq!(jsonl.cell(0, 1), "1");
        assert_eq!(jsonl.cell(1, 1), "");
        assert_eq!(jsonl.cell(1, 2), "gold");
    }

    #[test]
    fn bad_files_name_the_line() {
        let e = FeederData::load(&write("bad.csv", "email,password\na,b\nc\n")).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("bad.csv:3: 1 fields where the header has 2"),
            "{e}"
        );
        let e = FeederData::load(&write("bad.jsonl", "{\"a\":1}\n[1]\n")).unwrap_err();
        assert!(
            e.to_string()
                .contains("bad.jsonl:2: expected a JSON object"),
            "{e}"
        );
        let e = FeederData::load(&write("empty.csv", "email\n")).unwrap_err();
        assert!(e.to_string().contains("no data rows"), "{e}");
        let e = FeederData::load(Path::new("/nonexistent/users.csv")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/users.csv: "), "{e}");
    }
}
