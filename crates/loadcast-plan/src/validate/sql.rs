//! SQL steps: a statement with templated parameters, row captures and checks, and
//! `transaction = [ … ]` blocks of them.

use super::*;

/// The most retries a transaction may ask for: past this a conflict is the finding, not noise.
const MAX_RETRIES: i64 = 100;

impl Validator<'_> {
    /// `sql = "…"` or `transaction = [ … ]`; `None` after an error (recorded).
    pub(super) fn sql_step(&mut self, spanned: &Spanned<RawStep>, key: &str) -> Option<Step> {
        let step = spanned.get_ref();
        let Some(list) = &step.transaction else {
            return self.statement(spanned, key).map(|s| Step::Sql(Box::new(s)));
        };
        if step.sql.is_some()
            || step.params.is_some()
            || !step.capture.is_empty()
            || step.check.is_some()
            || step.timeout.is_some()
        {
            self.error(
                spanned,
                key,
                "a transaction holds its statements in `transaction = [ … ]`",
                Some("sql, params, capture, check and timeout on each statement of the list"),
            );
            return None;
        }
        let key_list = format!("{key}.transaction");
        if list.get_ref().is_empty() {
            self.error(
                list,
                &key_list,
                "the transaction has no statements",
                Some("transaction = [ { sql = \"UPDATE …\" }, { sql = \"SELECT …\" } ]"),
            );
            return None;
        }
        let retries = match &step.retries {
            None => Some(0),
            Some(r) if (0..=MAX_RETRIES).contains(r.get_ref()) => Some(*r.get_ref() as u32),
            Some(r) => {
                self.error(
                    r,
                    format!("{key}.retries"),
                    format!("{} is not a number of retries", r.get_ref()),
                    Some("a whole number from 0 to 100"),
                );
                None
            }
        };
        let mut statements = Vec::new();
        let mut ok = retries.is_some();
        for (j, inner) in list.get_ref().iter().enumerate() {
            let inner_key = format!("{key_list}[{j}]");
            if inner.get_ref().transaction.is_some() || inner.get_ref().retries.is_some() {
                self.error(
                    inner,
                    &inner_key,
                    "a transaction's statements cannot be transactions",
                    Some("{ sql = \"…\", params = [ … ] }"),
                );
                ok = false;
                continue;
            }
            match self.statement(inner, &inner_key) {
                Some(s) => statements.push(s),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let name = step.name.as_ref().map_or_else(
            || format!("transaction: {}", statements[0].name),
            |n| n.get_ref().clone(),
        );
        Some(Step::Transaction(Box::new(TransactionSpec {
            name,
            statements,
            retries: retries?,
        })))
    }

    fn statement(&mut self, spanned: &Spanned<RawStep>, key: &str) -> Option<SqlSpec> {
        let step = spanned.get_ref();
        let http = !step.shorthands().is_empty()
            || step.method.is_some()
            || step.url.is_some()
            || !step.headers.is_empty()
            || step.body.is_some()
            || step.json.is_some()
            || step.body_file.is_some()
            || step.think.is_some();
        if http {
            self.error(
                spanned,
                key,
                "a step is either a SQL statement, an HTTP request or a think time",
                Some("a separate [[scenario.step]] for each"),
            );
            return None;
        }
        if let Some(r) = &step.retries {
            self.error(
                r,
                format!("{key}.retries"),
                "retries belong to a transaction",
                Some("transaction = [ … ] with retries = 3"),
            );
            return None;
        }
        let Some(sql) = &step.sql else {
            self.error(
                spanned,
                key,
                "the statement has no sql",
                Some("sql = \"SELECT …\""),
            );
            return None;
        };
        // Statements are code, taken as written: `${…}` in them is the database's business.
        let text = sql.get_ref().clone();
        if text.trim().is_empty() {
            self.error(sql, format!("{key}.sql"), "the statement is empty", None);
            return None;
        }
        let params = self.sql_params(step.params.as_ref(), &format!("{key}.params"));
        let found = placeholders(&text);
        if let (Some(params), true) = (&params, self.mysql) {
            if params.len() != found.question_marks.len() {
                self.error(
                    sql,
                    format!("{key}.sql"),
                    format!(
                        "the statement has {} `?` placeholder{} but params has {} value{}",
                        found.question_marks.len(),
                        if found.question_marks.len() == 1 {
                            ""
                        } else {
                            "s"
                        },
                        params.len(),
                        if params.len() == 1 { "" } else { "s" }
                    ),
                    Some("one value in params for each ? (MySQL/MariaDB), in order"),
                );
                return None;
            }
        }
        if let (Some(params), Some(highest), false) = (&params, found.highest_dollar, self.mysql) {
            if params.len() < highest {
                self.error(
                    sql,
                    format!("{key}.sql"),
                    format!(
                        "the statement uses ${highest} but params has {} value{}",
                        params.len(),
                        if params.len() == 1 { "" } else { "s" }
                    ),
                    Some("one value in params for each $1, $2, …"),
                );
                return None;
            }
        }
        let timeout = match &step.timeout {
            None => Some(None),
            Some(t) => self
                .unit(t, &format!("{key}.timeout"), units::parse_duration)
                .map(Some),
        };
        let captures = self.row_captures(&step.capture, &format!("{key}.capture"));
        let checks = match &step.check {
            None => Some(SqlChecks::default()),
            Some(check) => self.sql_checks(check, &format!("{key}.check")),
        };
        let name = step
            .name
            .as_ref()
            .map_or_else(|| statement_name(sql.get_ref()), |n| n.get_ref().clone());
        Some(SqlSpec {
            name,
            sql: text,
            params: params?,
            timeout: timeout?,
            captures: captures?,
            checks: checks?,
        })
    }

    fn sql_params(
        &mut self,
        raw: Option<&Spanned<Vec<Spanned<toml::Value>>>>,
        key: &str,
    ) -> Option<Vec<Template>> {
        let Some(raw) = raw else {
            return Some(Vec::new());
        };
        let mut params = Vec::new();
        let mut ok = true;
        for (i, value) in raw.get_ref().iter().enumerate() {
            let key = format!("{key}[{i}]");
            let template = self.text_value(value, &key, "a parameter");
            match template {
                Some(t) => params.push(t),
                None => ok = false,
            }
        }
        ok.then_some(params)
    }

    /// A string (templates allowed), a number or a boolean, as the text a statement sends or
    /// a check expects.
    fn text_value(
        &mut self,
        value: &Spanned<toml::Value>,
        key: &str,
        what: &str,
    ) -> Option<Template> {
        match value.get_ref() {
            toml::Value::String(text) => {
                let spanned = Spanned::new(value.span(), text.clone());
                self.template(&spanned, key, Escape::None)
            }
            toml::Value::Integer(n) => Some(Template::literal(n.to_string())),
            toml::Value::Float(x) => Some(Template::literal(x.to_string())),
            toml::Value::Boolean(b) => Some(Template::literal(b.to_string())),
            other => {
                self.error(
                    value,
                    key,
                    format!("{other} is not {what}"),
                    Some("a string (templates allowed), a number or a boolean"),
                );
                None
            }
        }
    }

    fn row_captures(
        &mut self,
        raw: &BTreeMap<String, Spanned<String>>,
        key: &str,
    ) -> Option<Vec<Capture>> {
        let mut captures = Vec::new();
        let mut ok = true;
        for (name, spec) in raw {
            let key = format!("{key}.{name}");
            if !self.value_name_is_free(spec, &key, name) {
                ok = false;
                continue;
            }
            let var = self.names.variables.iter().position(|v| v == name)?;
            match spec.get_ref().strip_prefix("row:").and_then(parse_cell) {
                Some((row, column)) => captures.push(Capture {
                    var,
                    source: CaptureSource::Row { row, column },
                }),
                None => {
                    self.error(
                        spec,
                        &key,
                        format!("{:?} is not a capture from a result row", spec.get_ref()),
                        Some("\"row:0.id\" (row 0, column id) or \"row:0.1\" (its second column)"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(captures)
    }

    fn sql_checks(&mut self, raw: &Spanned<RawCheck>, key: &str) -> Option<SqlChecks> {
        let check = raw.get_ref();
        if check.status.is_some() || check.body.is_some() || !check.json.is_empty() {
            self.error(
                raw,
                key,
                "status, body and json checks are for HTTP responses",
                Some("rows = 1, values = { \"0.status\" = \"paid\" } or latency = \"50ms\""),
            );
            return None;
        }
        let mut ok = true;
        let rows = match &check.rows {
            None => None,
            Some(value) => match parse_rows(value.get_ref()) {
                Some(rows) => Some(rows),
                None => {
                    self.error(
                        value,
                        format!("{key}.rows"),
                        format!("{} is not a row count", value.get_ref()),
                        Some("a count such as 1, or a range such as \"1..10\" or \">=1\""),
                    );
                    ok = false;
                    None
                }
            },
        };
        let mut values = Vec::new();
        for (cell, expected) in &check.values {
            let key = format!("{key}.values.{cell}");
            let Some((row, column)) = parse_cell(cell) else {
                self.error(
                    expected,
                    &key,
                    format!("{cell:?} is not a cell"),
                    Some("\"ROW.COLUMN\" such as \"0.status\" or \"0.1\""),
                );
                ok = false;
                continue;
            };
            let template = self.text_value(expected, &key, "a value");
            match template {
                Some(t) => values.push((row, column, t)),
                None => ok = false,
            }
        }
        let max_latency =
            self.optional_duration(&check.latency, &format!("{key}.latency"), &mut ok);
        ok.then_some(SqlChecks {
            rows,
            values,
            max_latency,
        })
    }
}

impl Validator<'_> {
    /// The plan's target: the `target` it gives (`Some(None)` when that was invalid), or, for a
    /// plan whose steps are all SQL, the database's origin (what results name as the target).
    pub(super) fn target_or_database(
        &mut self,
        target: Option<Option<Target>>,
        scenarios: Option<&[Scenario]>,
        database: Option<&DatabaseSpec>,
    ) -> Option<Target> {
        let steps = || scenarios.into_iter().flatten().flat_map(|s| &s.steps);
        let any_http = steps().any(|s| matches!(s, Step::Request(_)));
        let sql_scenarios: Vec<&Scenario> = scenarios
            .into_iter()
            .flatten()
            .filter(|s| s.steps.iter().any(Step::is_sql))
            .collect();
        // What results name as the target of a plan with no HTTP: `[database]` when SQL steps go
        // there, else the first scenario's own database.
        let plan_database_used = sql_scenarios.iter().any(|s| s.database.is_none());
        let origin_url = if plan_database_used {
            let Some(db) = database else {
                let d = self.source.diagnostic(
                    0..0,
                    "database",
                    "the plan has SQL steps but no [database] to send them to",
                    Some("[database] url = \"postgres://user@127.0.0.1/db\", or database = \"…\" in the scenario"),
                );
                self.diagnostics.push(d);
                return None;
            };
            Some(db.url.as_str())
        } else {
            sql_scenarios
                .iter()
                .find_map(|s| s.database.as_ref().map(DatabaseUrl::as_str))
        };
        let sql_origin = match origin_url.map(database_origin) {
            None => None,
            Some(Ok(origin)) => Some(origin),
            Some(Err(message)) => {
                let d = self.source.diagnostic(
                    0..0,
                    "database.url",
                    message,
                    Some("postgres://user@host/db or mysql://user@host/db"),
                );
                self.diagnostics.push(d);
                return None;
            }
        };
        match target {
            Some(target) => target,
            None if any_http || sql_origin.is_none() => {
                if scenarios.is_some() {
                    let d = self.source.diagnostic(
                        0..0,
                        "target",
                        "the plan has no target",
                        Some("target = \"http://127.0.0.1:8080\" (only a plan whose steps are all SQL needs none)"),
                    );
                    self.diagnostics.push(d);
                }
                None
            }
            None => sql_origin,
        }
    }
}

/// `postgres://user:secret@host:5432/shop` → the target `postgres://host:5432/shop`, with no
/// user or password.
pub(crate) fn database_origin(url: &str) -> Result<Target, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{:?} is not a database URL", redact_url(url)))?;
    let (scheme, default_port) = match scheme {
        "postgres" | "postgresql" => ("postgres", 5432),
        "mysql" | "mariadb" => ("mysql", 3306),
        other => {
            return Err(format!(
                "SQL steps run on PostgreSQL or MySQL/MariaDB, not {other}"
            ));
        }
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => match port.parse() {
            Ok(port) => (host, port),
            Err(_) => (host_port, default_port),
        },
        _ => (host_port, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "localhost" } else { host };
    let database = path.split('?').next().unwrap_or("");
    Ok(Target {
        scheme: scheme.to_string(),
        host: host.to_string(),
        port,
        base_path: database.trim_end_matches('/').to_string(),
    })
}

/// `0.id` or `0.1`: a row number and a column name or position.
fn parse_cell(text: &str) -> Option<(usize, Column)> {
    let (row, column) = text.trim().split_once('.')?;
    let row = row.parse().ok()?;
    let column = column.trim();
    if column.is_empty() {
        return None;
    }
    Some((
        row,
        match column.parse() {
            Ok(i) => Column::Index(i),
            Err(_) => Column::Name(column.to_string()),
        },
    ))
}

/// `1`, `"1..10"`, `">=1"`, `"<=5"`: the least and most rows.
fn parse_rows(value: &toml::Value) -> Option<(u64, Option<u64>)> {
    match value {
        toml::Value::Integer(n) => u64::try_from(*n).ok().map(|n| (n, Some(n))),
        toml::Value::String(text) => {
            let text = text.trim();
            if let Some(low) = text.strip_prefix(">=") {
                return Some((low.trim().parse().ok()?, None));
            }
            if let Some(high) = text.strip_prefix("<=") {
                return Some((0, Some(high.trim().parse().ok()?)));
            }
            if let Some((low, high)) = text.split_once("..") {
                let (low, high): (u64, u64) = (low.trim().parse().ok()?, high.trim().parse().ok()?);
                return (low <= high).then_some((low, Some(high)));
            }
            text.parse().ok().map(|n| (n, Some(n)))
        }
        _ => None,
    }
}

/// A statement's parameter placeholders outside quotes: the highest `$N` (PostgreSQL) and
/// where each `?` is (MySQL/MariaDB), as byte offsets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placeholders {
    pub highest_dollar: Option<usize>,
    pub question_marks: Vec<usize>,
}

/// Finds a statement's placeholders, skipping quoted text.
pub fn placeholders(sql: &str) -> Placeholders {
    let bytes = sql.as_bytes();
    let mut found = Placeholders::default();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' || b == b'`' => quote = Some(b),
            None if b == b'?' => found.question_marks.push(i),
            None if b == b'$' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits > 0 {
                    if let Ok(n) = sql[i + 1..i + 1 + digits].parse::<usize>() {
                        found.highest_dollar = found.highest_dollar.max(Some(n));
                    }
                    i += digits;
                }
            }
            None => {}
        }
        i += 1;
    }
    found
}

/// A statement's default result name: its text on one line, cut at 60 characters.
fn statement_name(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 60 {
        return one_line;
    }
    let cut: String = one_line.chars().take(59).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_counted_outside_quotes() {
        let found = placeholders("SELECT $1, '$9', $2 FROM t WHERE a = $10");
        assert_eq!(found.highest_dollar, Some(10));
        assert_eq!(placeholders("SELECT '$1'").highest_dollar, None);
        let found = placeholders("SELECT * FROM t WHERE a = ? AND b = '?' AND `c?` = ?");
        assert_eq!(
            (found.question_marks.len(), found.highest_dollar),
            (2, None)
        );
    }

    #[test]
    fn row_counts_and_cells_parse() {
        assert_eq!(parse_rows(&toml::Value::Integer(1)), Some((1, Some(1))));
        assert_eq!(
            parse_rows(&toml::Value::String("1..10".into())),
            Some((1, Some(10)))
        );
        assert_eq!(
            parse_rows(&toml::Value::String(">=1".into())),
            Some((1, None))
        );
        assert_eq!(parse_rows(&toml::Value::String("3..1".into())), None);
        assert_eq!(parse_cell("0.id"), Some((0, Column::Name("id".into()))));
        assert_eq!(parse_cell("2.1"), Some((2, Column::Index(1))));
        assert_eq!(parse_cell("id"), None);
    }

    #[test]
    fn a_database_origin_keeps_no_credentials() {
        let t =
            database_origin("postgres://app:s3cret@10.0.0.5:6432/shop?sslmode=disable").unwrap();
        assert_eq!(t.url(), "postgres://10.0.0.5:6432/shop");
        let t = database_origin("mysql://root@127.0.0.1/test").unwrap();
        assert_eq!(
            (t.port, t.url().as_str()),
            (3306, "mysql://127.0.0.1:3306/test")
        );
        assert!(database_origin("sqlite://x.db").is_err());
    }
}
