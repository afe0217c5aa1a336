//! Reading plan text into the raw mirror, so that one problem never hides the others: every
//! unknown key is reported (each with the keys its table allows), and validation still runs
//! on the rest of the plan.
//!
//! The text is parsed once into toml's spanned document; a deserialization that stops on an
//! unknown key is retried with that key taken out of the document. Spans keep pointing into
//! the original text, so each diagnostic names the line and column where the key was written.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{Diagnostic, Source};
use crate::raw::RawPlan;

/// At most this many unknown keys are reported before reading gives up on the plan.
const MOST_UNKNOWN_KEYS: usize = 50;

/// The raw plan (`None` when it could not be read at all) and what was wrong on the way.
pub(crate) fn read(text: &str) -> (Option<RawPlan>, Vec<Diagnostic>) {
    let source = Source::new(text);
    let mut root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end_matches('\n').to_string();
            return (
                None,
                vec![source.diagnostic(span, String::new(), message, None)],
            );
        }
    };
    let mut diagnostics = Vec::new();
    loop {
        let deserializer = toml::de::Deserializer::from(root.clone());
        match serde_path_to_error::deserialize::<_, RawPlan>(deserializer) {
            Ok(raw) => return (Some(raw), diagnostics),
            Err(e) => {
                let key = key_path(e.path());
                let inner = e.into_inner();
                let span = inner.span().unwrap_or(0..0);
                let message = inner.message().trim_end_matches('\n').to_string();
                diagnostics.push(source.diagnostic(span.clone(), key, message.as_str(), None));
                let unknown = message.starts_with("unknown field");
                if !unknown
                    || diagnostics.len() >= MOST_UNKNOWN_KEYS
                    || !remove_key(root.get_mut(), &span)
                {
                    return (None, diagnostics);
                }
            }
        }
    }
}

/// The plan's key path (`load.stages[2].rate`): `toml::Spanned` shows up as a synthetic field
/// that readers do not want to see.
fn key_path(path: &serde_path_to_error::Path) -> String {
    path.to_string()
        .split('.')
        .filter(|segment| !segment.starts_with("$__serde_spanned"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Takes the key written at `span` out of `table` or any table nested in it; false when no
/// key was written there.
fn remove_key(table: &mut DeTable<'_>, span: &Range<usize>) -> bool {
    let found = table.keys().find(|k| k.span() == *span).cloned();
    if let Some(key) = found {
        return table.remove(&key).is_some();
    }
    table.iter_mut().any(|(_, value)| remove_in(value, span))
}

fn remove_in(value: &mut Spanned<DeValue<'_>>, span: &Range<usize>) -> bool {
    match value.get_mut() {
        DeValue::Table(table) => remove_key(table, span),
        DeValue::Array(items) => items.iter_mut().any(|item| remove_in(item, span)),
        _ => false,
    }
}
