//! Plan errors that point at the file, line, column and key, with the value and what was expected.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One problem in a plan file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// 1-based line of the offending value.
    pub line: usize,
    /// 1-based column (in characters) of the offending value.
    pub column: usize,
    /// Key path, e.g. `load.stages[2].rate`; empty when the problem is the file's syntax.
    pub key: String,
    /// What is wrong, including the value found.
    pub message: String,
    /// What would have been accepted.
    pub expected: Option<String>,
    /// The source line, for a caret display.
    source_line: String,
    /// Width of the caret underline.
    width: usize,
}

/// A plan could not be read or is not valid. Lists every problem found, not just the first.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}: cannot read plan: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render(path, diagnostics))]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

impl PlanError {
    /// The problems found, empty for an I/O error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PlanError::Io { .. } => &[],
            PlanError::Invalid { diagnostics, .. } => diagnostics,
        }
    }
}

fn render(path: &std::path::Path, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}:{}:{}: {d}", path.display(), d.line, d.column));
    }
    out
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(expected) = &self.expected {
            write!(f, "; expected {expected}")?;
        }
        let gutter = self.line.to_string().len();
        write!(
            f,
            "\n {:gutter$} |\n {} | {}\n {:gutter$} | {}{}",
            "",
            self.line,
            self.source_line,
            "",
            " ".repeat(self.column.saturating_sub(1)),
            "^".repeat(self.width.max(1)),
        )
    }
}

/// Turns byte spans of the plan's source into diagnostics.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    text: &'a str,
}

impl<'a> Source<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text }
    }

    pub(crate) fn diagnostic(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
        expected: Option<&str>,
    ) -> Diagnostic {
        let start = span.start.min(self.text.len());
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line = self.text[..start].matches('\n').count() + 1;
        let column = self.text[line_start..start].chars().count() + 1;
        let end = span.end.clamp(start, line_end);
        Diagnostic {
            line,
            column,
            key: key.into(),
            message: message.into(),
            expected: expected.map(str::to_string),
            source_line: self.text[line_start..line_end].trim_end().to_string(),
            width: self.text[start..end].chars().count(),
        }
    }
}
