//! `loadcast plan import-pgbench`: a pgbench custom script as a plan. `\set` with `random`,
//! `random_exponential`, `random_gaussian` and `random_zipfian` (bounds may be arithmetic on
//! `:scale`) becomes a `set` step; `:name` in SQL becomes `$N` with its value as a parameter;
//! `BEGIN` … `END`/`COMMIT` becomes a transaction; `\sleep` a think time. Whatever else the
//! script holds is refused with its line, never guessed at.

use std::fmt::Write as _;

/// What the plan around the script says.
#[derive(Clone, Debug)]
pub struct PgbenchOptions {
    /// The plan's (and scenario's) name.
    pub name: String,
    /// The database URL the statements go to.
    pub database: String,
    /// pgbench's scale factor: the value of `:scale`.
    pub scale: i64,
    /// Closed model: this many users (`pgbench -c`); open model: this many connections in a
    /// pool the arrivals share, as pgbench's clients are shared by its schedule.
    pub clients: u32,
    /// Open model at this many transactions per second instead (`pgbench -R`).
    pub rate: Option<f64>,
    /// How long the load runs (`pgbench -T`), in humantime text.
    pub duration: String,
    /// `pgbench -L`, in humantime text.
    pub latency_limit: Option<String>,
}

/// A script line loadcast cannot import.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {cause}")]
pub struct PgbenchError {
    pub line: usize,
    pub cause: String,
}

fn fail<T>(line: usize, cause: impl Into<String>) -> Result<T, PgbenchError> {
    Err(PgbenchError {
        line,
        cause: cause.into(),
    })
}

/// One statement with its `:variables` turned into parameters.
#[derive(Debug)]
struct Statement {
    sql: String,
    params: Vec<String>,
}

#[derive(Debug)]
enum Item {
    Set(Vec<(String, String)>),
    Sql(Statement),
    Transaction(Vec<Statement>),
    Sleep(String),
}

/// The plan's TOML for `script`.
pub fn import(script: &str, options: &PgbenchOptions) -> Result<String, PgbenchError> {
    let items = parse(script, options.scale)?;
    if !items
        .iter()
        .any(|i| matches!(i, Item::Sql(_) | Item::Transaction(_)))
    {
        return fail(1, "the script has no SQL command");
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported from a pgbench script by `loadcast plan import-pgbench` (scale {}).\nname = {}\n\n[database]\nurl = {}",
        options.scale,
        quote(&options.name),
        quote(&options.database)
    );
    if options.rate.is_some() {
        // pgbench -R runs its schedule on its -c connections: one connection per arrival
        // would measure connection set-up (and hit max_connections), not the transaction.
        let _ = writeln!(
            out,
            "connections = \"pool\"\npool_size = {}",
            options.clients
        );
    }
    out.push('\n');
    match options.rate {
        Some(rate) => {
            let _ = writeln!(
                out,
                "[load]\nmodel = \"open\"\nrate = \"{rate}/s\"\nduration = {}",
                quote(&options.duration)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "[load]\nmodel = \"closed\"\nusers = {}\nduration = {}",
                options.clients,
                quote(&options.duration)
            );
        }
    }
    if let Some(limit) = &options.latency_limit {
        let _ = writeln!(out, "latency_limit = {}", quote(limit));
    }
    out.push('\n');
    let _ = writeln!(out, "[[scenario]]\nname = {}", quote(&options.name));
    for item in &items {
        out.push_str("\n[[scenario.step]]\n");
        match item {
            Item::Set(values) => {
                let values: Vec<String> = values
                    .iter()
                    .map(|(name, value)| format!("{name} = {}", quote(value)))
                    .collect();
                let _ = writeln!(out, "set = {{ {} }}", values.join(", "));
            }
            Item::Sql(statement) => {
                let _ = writeln!(out, "sql = {}", quote(&statement.sql));
                if !statement.params.is_empty() {
                    let _ = writeln!(out, "params = {}", params(&statement.params));
                }
            }
            Item::Transaction(statements) => {
                let _ = writeln!(out, "name = {}\ntransaction = [", quote(&options.name));
                for s in statements {
                    if s.params.is_empty() {
                        let _ = writeln!(out, "  {{ sql = {} }},", quote(&s.sql));
                    } else {
                        let _ = writeln!(
                            out,
                            "  {{ sql = {}, params = {} }},",
                            quote(&s.sql),
                            params(&s.params)
                        );
                    }
                }
                out.push_str("]\n");
            }
            Item::Sleep(duration) => {
                let _ = writeln!(out, "think = {}", quote(duration));
            }
        }
    }
    Ok(out)
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn params(names: &[String]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|n| quote(&format!("{{{{{n}}}}}")))
        .collect();
    format!("[{}]", quoted.join(", "))
}

fn parse(script: &str, scale: i64) -> Result<Vec<Item>, PgbenchError> {
    let mut items: Vec<Item> = Vec::new();
    let mut defined: Vec<String> = Vec::new();
    let mut transaction: Option<(usize, Vec<Statement>)> = None;
    let mut pending = String::new();
    let mut pending_line = 0;
    for (index, raw) in script.lines().enumerate() {
        let line = index + 1;
        let text = raw.trim();
        if pending.is_empty() && (text.is_empty() || text.starts_with("--")) {
            continue;
        }
        if pending.is_empty() && text.starts_with('\\') {
            match meta(text, line, scale, &defined)? {
                Meta::Set(name, value) => {
                    // Consecutive \set lines draw together, as one set step.
                    match items.last_mut() {
                        Some(Item::Set(values)) if transaction.is_none() => {
                            values.push((name.clone(), value));
                        }
                        _ if transaction.is_some() => {
                            return fail(line, "\\set inside a transaction: move it before BEGIN");
                        }
                        _ => items.push(Item::Set(vec![(name.clone(), value)])),
                    }
                    defined.push(name);
                }
                Meta::Sleep(duration) if transaction.is_none() => items.push(Item::Sleep(duration)),
                Meta::Sleep(_) => {
                    return fail(
                        line,
                        "\\sleep inside a transaction holds its locks; move it out",
                    );
                }
            }
            continue;
        }
        if pending.is_empty() {
            pending_line = line;
        }
        pending.push_str(text);
        pending.push(' ');
        if !ends_statement(&pending) {
            continue;
        }
        let sql = pending.trim().trim_end_matches(';').trim().to_string();
        pending.clear();
        if sql.is_empty() {
            continue;
        }
        if has_numbered_placeholder(&sql) {
            return fail(
                pending_line,
                "a $N placeholder: a pgbench script names its values (:aid), and so does the import",
            );
        }
        let word = sql
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let words: Vec<String> = sql
            .split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect();
        let begins = matches!(
            words
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            ["BEGIN", ..] | ["START", "TRANSACTION", ..]
        );
        match word.as_str() {
            _ if begins => {
                if transaction.is_some() {
                    return fail(pending_line, "BEGIN inside a transaction");
                }
                let plain = matches!(words.len(), 1) || words == ["START", "TRANSACTION"];
                if !plain {
                    return fail(
                        pending_line,
                        format!("{sql:?}: transaction options are not imported; use BEGIN alone"),
                    );
                }
                transaction = Some((pending_line, Vec::new()));
            }
            "END" | "COMMIT" => match transaction.take() {
                Some((_, statements)) if !statements.is_empty() => {
                    items.push(Item::Transaction(statements));
                }
                Some(_) => return fail(pending_line, "an empty transaction"),
                None => return fail(pending_line, format!("{word} without BEGIN")),
            },
            "ROLLBACK" | "SAVEPOINT" | "RELEASE" => {
                return fail(
                    pending_line,
                    format!(
                        "{word}: a transaction is committed whole or rolled back on error; explicit {word} is not imported"
                    ),
                );
            }
            _ => {
                let statement = variables(&sql, pending_line, &defined)?;
                match &mut transaction {
                    Some((_, statements)) => statements.push(statement),
                    None => items.push(Item::Sql(statement)),
                }
            }
        }
    }
    if !pending.trim().is_empty() {
        return fail(pending_line, "the last SQL command has no closing `;`");
    }
    if let Some((line, _)) = transaction {
        return fail(line, "BEGIN without END or COMMIT");
    }
    Ok(items)
}

enum Meta {
    Set(String, String),
    Sleep(String),
}

fn meta(text: &str, line: usize, scale: i64, defined: &[String]) -> Result<Meta, PgbenchError> {
    let (command, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim();
    match command {
        "\\set" => {
            let (name, expression) =
                rest.split_once(char::is_whitespace)
                    .ok_or_else(|| PgbenchError {
                        line,
                        cause: "\\set needs a name and an expression".into(),
                    })?;
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return fail(line, format!("{name:?} is not a variable name"));
            }
            if defined.iter().any(|d| d == name) {
                return fail(line, format!(":{name} is set twice"));
            }
            if crate::template::BUILT_IN.contains(&name) {
                return fail(
                    line,
                    format!(":{name} is a name loadcast's templates keep for their own; rename it"),
                );
            }
            Ok(Meta::Set(
                name.to_string(),
                set_value(expression.trim(), line, scale)?,
            ))
        }
        "\\sleep" => {
            let mut words = rest.split_whitespace();
            let amount = words.next().unwrap_or("");
            let unit = words.next().unwrap_or("s");
            let n: u64 = amount
                .parse()
                .ok()
                .filter(|n| *n <= 3_600_000)
                .ok_or_else(|| PgbenchError {
                    line,
                    cause: format!(
                        "\\sleep {amount:?}: only a whole number, at most 3600000, is imported"
                    ),
                })?;
            let unit = match unit {
                "us" => "us",
                "ms" => "ms",
                "s" => "s",
                other => return fail(line, format!("\\sleep unit {other:?}: us, ms or s")),
            };
            Ok(Meta::Sleep(format!("{n}{unit}")))
        }
        other => fail(
            line,
            format!("{other} is not imported (\\set and \\sleep are)"),
        ),
    }
}

/// The template for a `\set` expression: a random function of constant bounds, or a constant.
fn set_value(expression: &str, line: usize, scale: i64) -> Result<String, PgbenchError> {
    let constant = |text: &str| {
        Arithmetic::new(text, scale)
            .value()
            .map_err(|cause| PgbenchError {
                line,
                cause: format!("{text:?}: {cause}"),
            })
    };
    let Some((function, args)) = expression.split_once('(') else {
        return Ok(constant(expression)?.to_string());
    };
    let args = args.trim().strip_suffix(')').ok_or_else(|| PgbenchError {
        line,
        cause: format!("{expression:?}: missing `)`"),
    })?;
    let args: Vec<&str> = split_args(args);
    let ints = |n: usize| -> Result<Vec<i64>, PgbenchError> {
        args.iter().take(n).map(|a| constant(a)).collect()
    };
    let function = function.trim();
    use crate::template::Skew;
    let (template, arity, skew) = match function {
        "random" => ("rand", 2, None),
        "random_exponential" => ("rand_exponential", 3, Some(Skew::Exponential)),
        "random_gaussian" => ("rand_gaussian", 3, Some(Skew::Gaussian)),
        "random_zipfian" => ("rand_zipfian", 3, Some(Skew::Zipfian)),
        other => {
            return fail(
                line,
                format!(
                    "{other}(): only random, random_exponential, random_gaussian and random_zipfian are imported"
                ),
            );
        }
    };
    if args.len() != arity {
        return fail(line, format!("{function} takes {arity} arguments"));
    }
    let bounds = ints(2)?;
    if bounds[0] > bounds[1] {
        return fail(
            line,
            format!(
                "{function}: the low bound {} is above the high bound {}",
                bounds[0], bounds[1]
            ),
        );
    }
    Ok(if arity == 2 {
        format!("{{{{{template}({}, {})}}}}", bounds[0], bounds[1])
    } else {
        let parameter: f64 = args[2].trim().parse().map_err(|_| PgbenchError {
            line,
            cause: format!("{function}: {:?} is not a number", args[2]),
        })?;
        if let Some(skew) = skew.filter(|s| !s.accepts(parameter)) {
            return fail(
                line,
                format!(
                    "{function}: the parameter {parameter} is not {}",
                    skew.range()
                ),
            );
        }
        format!(
            "{{{{{template}({}, {}, {parameter})}}}}",
            bounds[0], bounds[1]
        )
    })
}

/// Arguments at the top level of a call (commas inside parentheses stay).
fn split_args(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out
}

/// Integer arithmetic (`+ - * / %`, parentheses) on numbers and `:scale`.
struct Arithmetic<'a> {
    rest: &'a str,
    scale: i64,
}

impl<'a> Arithmetic<'a> {
    fn new(text: &'a str, scale: i64) -> Self {
        Self { rest: text, scale }
    }

    fn value(mut self) -> Result<i64, String> {
        let v = self.sum()?;
        if !self.rest.trim().is_empty() {
            return Err(format!("unexpected {:?}", self.rest.trim()));
        }
        Ok(v)
    }

    fn peek(&mut self) -> Option<char> {
        self.rest = self.rest.trim_start();
        self.rest.chars().next()
    }

    fn sum(&mut self) -> Result<i64, String> {
        let mut v = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.rest = &self.rest[1..];
            let rhs = self.product()?;
            v = if op == '+' {
                v.checked_add(rhs)
            } else {
                v.checked_sub(rhs)
            }
            .ok_or("overflow")?;
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<i64, String> {
        let mut v = self.atom()?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek() {
            self.rest = &self.rest[1..];
            let rhs = self.atom()?;
            v = match op {
                '*' => v.checked_mul(rhs),
                '/' => v.checked_div(rhs),
                _ => v.checked_rem(rhs),
            }
            .ok_or("overflow or division by zero")?;
        }
        Ok(v)
    }

    fn atom(&mut self) -> Result<i64, String> {
        match self.peek() {
            Some('(') => {
                self.rest = &self.rest[1..];
                let v = self.sum()?;
                if self.peek() != Some(')') {
                    return Err("missing `)`".into());
                }
                self.rest = &self.rest[1..];
                Ok(v)
            }
            Some('-') => {
                self.rest = &self.rest[1..];
                self.atom()?
                    .checked_neg()
                    .ok_or_else(|| "overflow".to_string())
            }
            Some(':') => {
                let name: String = self.rest[1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                self.rest = &self.rest[1 + name.len()..];
                match name.as_str() {
                    "scale" => Ok(self.scale),
                    _ => Err(format!(
                        ":{name}: only :scale is known when the plan is written; values from other variables are not imported"
                    )),
                }
            }
            Some(c) if c.is_ascii_digit() => {
                let digits: String = self.rest.chars().take_while(char::is_ascii_digit).collect();
                self.rest = &self.rest[digits.len()..];
                digits.parse().map_err(|_| format!("{digits} is too large"))
            }
            _ => Err("expected a number, :scale or `(`".into()),
        }
    }
}

/// Whether `sql` holds `$1`, `$2`, … outside quotes.
fn has_numbered_placeholder(sql: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => return true,
            None => {}
        }
    }
    false
}

/// Whether `text` ends with a semicolon outside quotes.
fn ends_statement(text: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut last = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if !c.is_whitespace() => last = Some(c),
            None => {}
        }
    }
    quote.is_none() && last == Some(';')
}

/// `:name` outside quotes and casts (`::int`) → `$N`, one number per variable.
fn variables(sql: &str, line: usize, defined: &[String]) -> Result<Statement, PgbenchError> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut params: Vec<String> = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == ':' && chars.get(i + 1) == Some(&':') => {
                out.push_str("::");
                i += 1;
            }
            None if c == ':'
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_alphabetic() || *n == '_') =>
            {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                i += name.len();
                let template = match name.as_str() {
                    _ if defined.contains(&name) => name.clone(),
                    // pgbench numbers clients from 0; loadcast's users from 1.
                    "client_id" => "vu".to_string(),
                    "scale" => {
                        return fail(line, ":scale in SQL: write its value, or \\set scale first");
                    }
                    _ => return fail(line, format!(":{name} is not set by any \\set before it")),
                };
                let n = match params.iter().position(|p| *p == template) {
                    Some(p) => p + 1,
                    None => {
                        params.push(template);
                        params.len()
                    }
                };
                let _ = write!(out, "${n}");
            }
            None => out.push(c),
        }
        i += 1;
    }
    Ok(Statement { sql: out, params })
}

#[cfg(test)]
mod tests;
