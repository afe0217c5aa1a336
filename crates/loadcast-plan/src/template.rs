//! Templates in URLs, headers and bodies: `{{user.email}}`, `{{vu}}`, `{{iteration}}`,
//! `{{rand(1, 50)}}`, `{{choice(red, green)}}`, `{{uuid}}` and values captured earlier
//! (`{{token}}`). `${env:NAME}` is replaced when the plan loads, before templates are parsed.
//!
//! A template is parsed once, when the plan loads, into literal text and expressions whose
//! names are resolved to indices (feeder, column, variable): rendering a request per virtual user
//! is then a walk over a short list, with no lookup by name on the hot path.

use std::fmt::Write as _;

/// How a rendered value is made safe for where it lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Inserted as is (raw bodies).
    None,
    /// Percent-encoded (paths and query strings): `a b&c` → `a%20b%26c`.
    Url,
    /// Line breaks removed, so a value can never start a new header.
    Header,
    /// Escaped as the inside of a JSON string.
    Json,
}

/// One value a template can insert.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A column of the current row of a feeder.
    Field { feeder: usize, column: usize },
    /// A value captured by an earlier step (index into [`crate::Plan::variables`]).
    Var(usize),
    /// The virtual user's number, from 1.
    Vu,
    /// The virtual user's iteration number, from 0.
    Iteration,
    /// A uniformly random integer in `low..=high`.
    Rand(i64, i64),
    /// An integer in `low..=high` drawn as pgbench's `random_exponential`, `random_gaussian` or
    /// `random_zipfian` draws it, with their parameter.
    Skewed(Skew, i64, i64, f64),
    /// One of the options, uniformly.
    Choice(Vec<String>),
    /// A random (version 4) UUID.
    Uuid,
}

/// A non-uniform distribution of integers, as pgbench defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skew {
    /// Low values likelier: density ∝ exp(−parameter · x) over the range.
    Exponential,
    /// Around the middle: a normal cut at ±parameter standard deviations.
    Gaussian,
    /// The first values by far the likeliest: P(k) ∝ 1 / k^parameter.
    Zipfian,
}

impl Skew {
    fn name(self) -> &'static str {
        match self {
            Skew::Exponential => "rand_exponential",
            Skew::Gaussian => "rand_gaussian",
            Skew::Zipfian => "rand_zipfian",
        }
    }

    /// The parameter's valid range, in words.
    pub fn range(self) -> &'static str {
        match self {
            Skew::Exponential => "above 0",
            Skew::Gaussian => "at least 2",
            Skew::Zipfian => "from 1.001 to 1000",
        }
    }

    /// The parameter's valid range, as pgbench checks it.
    pub fn accepts(self, parameter: f64) -> bool {
        match self {
            Skew::Exponential => parameter > 0.0,
            Skew::Gaussian => parameter >= 2.0,
            Skew::Zipfian => (1.001..=1000.0).contains(&parameter),
        }
    }

    /// A draw in `low..=high`.
    pub fn draw(self, rng: &mut fastrand::Rng, low: i64, high: i64, parameter: f64) -> i64 {
        // In i128: the whole i64 range is a valid (if odd) range.
        let width = i128::from(high) - i128::from(low);
        let span = (width + 1) as f64;
        // (0, 1]: never zero, so that logarithms and powers stay finite.
        let mut open = || 1.0 - rng.f64();
        let offset = match self {
            Skew::Exponential => {
                let cut = (-parameter).exp();
                let r = -(cut + (1.0 - cut) * open()).ln() / parameter;
                (span * r) as i64
            }
            Skew::Gaussian => loop {
                // Box–Muller, redrawn until within ±parameter deviations.
                let (u, v) = (open(), open());
                let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).sin();
                if (-parameter..parameter).contains(&normal) {
                    let r = (normal + parameter) / (2.0 * parameter);
                    break (span * r) as i64;
                }
            },
            // Devroye's rejection method, as pgbench's computeIterativeZipfian.
            Skew::Zipfian => {
                let n = width + 1;
                if n <= 1 {
                    0
                } else {
                    let b = 2f64.powf(parameter - 1.0);
                    loop {
                        let (u, v) = (open(), open());
                        let x = u.powf(-1.0 / (parameter - 1.0)).floor();
                        let t = (1.0 + 1.0 / x).powf(parameter - 1.0);
                        if v * x * (t - 1.0) / (b - 1.0) <= t / b && x <= n as f64 {
                            break x as i64 - 1;
                        }
                    }
                }
            }
        };
        (i128::from(low) + i128::from(offset).clamp(0, width)) as i64
    }
}

impl Expr {
    /// Whether the value is always a number (a JSON body may then insert it without quotes).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Expr::Vu | Expr::Iteration | Expr::Rand(..) | Expr::Skewed(..)
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Text(String),
    Expr(Expr, Escape),
}

/// Literal text and expressions, rendered per request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// What a template reads while rendering: the virtual user's data.
pub trait Scope {
    /// The current row's value of `column` in `feeder`.
    fn field(&self, feeder: usize, column: usize) -> &str;
    /// A captured value; `None` when nothing was captured yet.
    fn var(&self, index: usize) -> Option<&str>;
    fn vu(&self) -> u64;
    fn iteration(&self) -> u64;
    fn rng(&mut self) -> &mut fastrand::Rng;
}

/// Names a template may refer to, resolved while parsing.
pub trait Names {
    /// `(feeder, column)` for `feeder.column`, or why not.
    fn field(&self, feeder: &str, column: &str) -> Result<(usize, usize), String>;
    /// The index of a captured variable, or why not.
    fn var(&self, name: &str) -> Result<usize, String>;
}

impl Template {
    pub fn literal(text: impl Into<String>) -> Self {
        Self {
            parts: vec![Part::Text(text.into())],
        }
    }

    /// Parses `text`, resolving names through `names`; `escape` applies to every expression.
    pub fn parse(text: &str, escape: Escape, names: &dyn Names) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in {text:?}"))?;
            parts.push(Part::Expr(parse_expr(after[..end].trim(), names)?, escape));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// The text when the template has no expression.
    pub fn as_static(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(..) => return None,
            }
        }
        Some(out)
    }

    /// The template for people: literal text, `{{…}}` where a value is filled in.
    pub fn describe(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Expr(..) => "{{…}}".to_string(),
            })
            .collect()
    }

    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Captured variables this template reads.
    pub fn vars(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(Expr::Var(i), _) => Some(*i),
            _ => None,
        })
    }

    /// Feeders this template reads.
    pub fn feeders(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(Expr::Field { feeder, .. }, _) => Some(*feeder),
            _ => None,
        })
    }

    /// Appends the rendered template to `out`. A variable not captured yet renders empty (the
    /// engine stops an iteration whose capture failed before it gets here).
    pub fn render(&self, scope: &mut dyn Scope, out: &mut Vec<u8>) {
        let mut value = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Expr(expr, escape) => {
                    value.clear();
                    evaluate(expr, scope, &mut value);
                    escape_into(&value, *escape, out);
                }
            }
        }
    }

    /// Renders into a new string.
    pub fn render_string(&self, scope: &mut dyn Scope) -> String {
        let mut out = Vec::new();
        self.render(scope, &mut out);
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }
}

fn evaluate(expr: &Expr, scope: &mut dyn Scope, out: &mut String) {
    match expr {
        Expr::Field { feeder, column } => out.push_str(scope.field(*feeder, *column)),
        Expr::Var(i) => out.push_str(scope.var(*i).unwrap_or("")),
        Expr::Vu => {
            let _ = write!(out, "{}", scope.vu());
        }
        Expr::Iteration => {
            let _ = write!(out, "{}", scope.iteration());
        }
        Expr::Rand(low, high) => {
            let n = scope.rng().i64(*low..=*high);
            let _ = write!(out, "{n}");
        }
        Expr::Skewed(skew, low, high, parameter) => {
            let n = skew.draw(scope.rng(), *low, *high, *parameter);
            let _ = write!(out, "{n}");
        }
        Expr::Choice(options) => {
            let i = scope.rng().usize(0..options.len());
            out.push_str(&options[i]);
        }
        Expr::Uuid => {
            let rng = scope.rng();
            let mut bytes = rng.u128(..).to_be_bytes();
            bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
            bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
            for (i, b) in bytes.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    out.push('-');
                }
                let _ = write!(out, "{b:02x}");
            }
        }
    }
}

fn escape_into(value: &str, escape: Escape, out: &mut Vec<u8>) {
    match escape {
        Escape::None => out.extend_from_slice(value.as_bytes()),
        Escape::Url => {
            for piece in percent_encoding::utf8_percent_encode(value, URL_VALUE) {
                out.extend_from_slice(piece.as_bytes());
            }
        }
        Escape::Header => out.extend(value.bytes().filter(|b| *b != b'\r' && *b != b'\n')),
        Escape::Json => {
            let quoted = serde_json::to_string(value).unwrap_or_default();
            out.extend_from_slice(&quoted.as_bytes()[1..quoted.len().saturating_sub(1)]);
        }
    }
}

/// Everything but RFC 3986's unreserved characters is encoded in a value inserted in a URL.
const URL_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const EXPECTED_EXPR: &str = "user.email (a feeder column), vu, iteration, rand(1, 50), \
                             rand_exponential/rand_gaussian/rand_zipfian(1, 50, 2.5), \
                             choice(a, b), uuid or a captured or set name";

/// Names a template reads as its own values, never as a captured one.
pub const BUILT_IN: [&str; 3] = ["vu", "iteration", "uuid"];

fn parse_expr(text: &str, names: &dyn Names) -> Result<Expr, String> {
    if let Some((function, args)) = text.split_once('(') {
        let args = args
            .strip_suffix(')')
            .ok_or_else(|| format!("`{{{{{text}}}}}`: missing `)`"))?;
        let args: Vec<String> = args
            .split(',')
            .map(|a| a.trim().trim_matches(['"', '\'']).to_string())
            .collect();
        return match function.trim() {
            "rand" => {
                let bounds: Result<Vec<i64>, _> =
                    args.iter().map(|a| a.replace('_', "").parse()).collect();
                match bounds.as_deref() {
                    Ok([low, high]) if low <= high => Ok(Expr::Rand(*low, *high)),
                    _ => Err(format!(
                        "`{{{{{text}}}}}`: rand takes two whole numbers, low ≤ high, as in rand(1, 50)"
                    )),
                }
            }
            name @ ("rand_exponential" | "rand_gaussian" | "rand_zipfian") => {
                let skew = match name {
                    "rand_exponential" => Skew::Exponential,
                    "rand_gaussian" => Skew::Gaussian,
                    _ => Skew::Zipfian,
                };
                let bounds: Vec<Option<i64>> = args
                    .iter()
                    .take(2)
                    .map(|a| a.replace('_', "").parse().ok())
                    .collect();
                let parameter = args.get(2).and_then(|p| p.parse::<f64>().ok());
                match (bounds.as_slice(), parameter, args.len()) {
                    ([Some(low), Some(high)], Some(p), 3) if low <= high && skew.accepts(p) => {
                        Ok(Expr::Skewed(skew, *low, *high, p))
                    }
                    _ => Err(format!(
                        "`{{{{{text}}}}}`: {} takes two whole numbers, low ≤ high, and a parameter \
                         (exponential > 0, gaussian ≥ 2, zipfian from 1.001 to 1000), as in {}(1, 1000, 2.5)",
                        skew.name(),
                        skew.name()
                    )),
                }
            }
            "choice" if args.iter().all(|a| !a.is_empty()) => Ok(Expr::Choice(args)),
            "choice" => Err(format!(
                "`{{{{{text}}}}}`: choice takes a list of options, as in choice(red, green)"
            )),
            other => Err(format!(
                "`{{{{{text}}}}}`: {other:?} is not a template function; expected {EXPECTED_EXPR}"
            )),
        };
    }
    match text {
        "vu" => Ok(Expr::Vu),
        "iteration" => Ok(Expr::Iteration),
        "uuid" => Ok(Expr::Uuid),
        "" => Err(format!("`{{{{}}}}` is empty; expected {EXPECTED_EXPR}")),
        _ => match text.split_once('.') {
            Some((feeder, column)) => names
                .field(feeder, column)
                .map(|(feeder, column)| Expr::Field { feeder, column })
                .map_err(|e| format!("`{{{{{text}}}}}`: {e}")),
            None => names
                .var(text)
                .map(Expr::Var)
                .map_err(|e| format!("`{{{{{text}}}}}`: {e}")),
        },
    }
}

/// Builds a JSON body template from a TOML value: JSON structure is literal text, expressions
/// inside strings are JSON-escaped, and a string that is a single numeric expression
/// (`"{{rand(1, 9)}}"`, `"{{vu}}"`) becomes a JSON number.
pub fn json_template(value: &toml::Value, names: &dyn Names) -> Result<Template, String> {
    let mut parts = Vec::new();
    json_parts(value, names, &mut parts)?;
    // Merge adjacent literal text so rendering walks as few parts as possible.
    let mut merged: Vec<Part> = Vec::with_capacity(parts.len());
    for part in parts {
        match (merged.last_mut(), part) {
            (Some(Part::Text(a)), Part::Text(b)) => a.push_str(&b),
            (_, part) => merged.push(part),
        }
    }
    Ok(Template { parts: merged })
}

fn json_literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn json_parts(value: &toml::Value, names: &dyn Names, out: &mut Vec<Part>) -> Result<(), String> {
    match value {
        toml::Value::String(s) => {
            let template = Template::parse(s, Escape::Json, names)?;
            match template.parts.as_slice() {
                [Part::Expr(expr, _)] if expr.is_numeric() => {
                    out.push(Part::Expr(expr.clone(), Escape::None));
                }
                _ => {
                    out.push(Part::Text("\"".into()));
                    for part in template.parts {
                        match part {
                            Part::Text(t) => {
                                let quoted = json_literal(&t);
                                out.push(Part::Text(quoted[1..quoted.len() - 1].to_string()));
                            }
                            expr => out.push(expr),
                        }
                    }
                    out.push(Part::Text("\"".into()));
                }
            }
        }
        toml::Value::Array(items) => {
            out.push(Part::Text("[".into()));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(Part::Text(",".into()));
                }
                json_parts(item, names, out)?;
            }
            out.push(Part::Text("]".into()));
        }
        toml::Value::Table(table) => {
            out.push(Part::Text("{".into()));
            for (i, (key, item)) in table.iter().enumerate() {
                if i > 0 {
                    out.push(Part::Text(",".into()));
                }
                out.push(Part::Text(format!("{}:", json_literal(key))));
                json_parts(item, names, out)?;
            }
            out.push(Part::Text("}".into()));
        }
        other => {
            let json = serde_json::to_string(other).map_err(|e| e.to_string())?;
            out.push(Part::Text(json));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn skewed_draws_follow_pgbench_distributions() {
        let mut rng = fastrand::Rng::with_seed(7);
        let n = 40_000;
        let share = |skew: Skew,
                     p: f64,
                     low: i64,
                     high: i64,
                     hit: &dyn Fn(i64) -> bool,
                     rng: &mut fastrand::Rng| {
            let mut hits = 0;
            for _ in 0..n {
                let v = skew.draw(rng, low, high, p);
                assert!(
                    (low..=high).contains(&v),
                    "{skew:?} drew {v} outside {low}..={high}"
                );
                hits += usize::from(hit(v));
            }
            hits as f64 / n as f64
        };
        // Zipf s = 2 over 1..=100: P(1) = 1 / Σ 1/k² = 0.612.
        let first = share(Skew::Zipfian, 2.0, 1, 100, &|v| v == 1, &mut rng);
        assert!((0.59..0.635).contains(&first), "zipfian P(1) = {first}");
        // Exponential, parameter 5: P(x < 0.2 of the range) = (1 − e⁻¹) / (1 − e⁻⁵) = 0.636.
        let low = share(Skew::Exponential, 5.0, 0, 99, &|v| v < 20, &mut rng);
        assert!((0.61..0.66).contains(&low), "exponential P(<20) = {low}");
        // Gaussian, ±5 sd over 0..=99: symmetric; within ±1 sd (40..60) 68%.
        let middle = share(
            Skew::Gaussian,
            5.0,
            0,
            99,
            &|v| (40..60).contains(&v),
            &mut rng,
        );
        assert!(
            (0.66..0.70).contains(&middle),
            "gaussian P(40..60) = {middle}"
        );
    }

    use super::*;

    struct TestNames;

    impl Names for TestNames {
        fn field(&self, feeder: &str, column: &str) -> Result<(usize, usize), String> {
            match (feeder, column) {
                ("user", "email") => Ok((0, 0)),
                ("user", "password") => Ok((0, 1)),
                _ => Err(format!("no column {column} in {feeder}")),
            }
        }

        fn var(&self, name: &str) -> Result<usize, String> {
            (name == "token")
                .then_some(0)
                .ok_or_else(|| format!("{name} is never captured"))
        }
    }

    struct TestScope {
        rng: fastrand::Rng,
        token: Option<String>,
    }

    impl Scope for TestScope {
        fn field(&self, _: usize, column: usize) -> &str {
            ["a b@example.com", "p\"w\nx"][column]
        }
        fn var(&self, _: usize) -> Option<&str> {
            self.token.as_deref()
        }
        fn vu(&self) -> u64 {
            7
        }
        fn iteration(&self) -> u64 {
            3
        }
        fn rng(&mut self) -> &mut fastrand::Rng {
            &mut self.rng
        }
    }

    fn scope() -> TestScope {
        TestScope {
            rng: fastrand::Rng::with_seed(1),
            token: Some("t0k".into()),
        }
    }

    #[test]
    fn renders_with_the_escape_of_its_place() {
        let url = Template::parse(
            "/users/{{user.email}}?vu={{vu}}&i={{iteration}}",
            Escape::Url,
            &TestNames,
        )
        .unwrap();
        assert_eq!(
            url.render_string(&mut scope()),
            "/users/a%20b%40example.com?vu=7&i=3"
        );
        let header = Template::parse(
            "Bearer {{token}} {{user.password}}",
            Escape::Header,
            &TestNames,
        )
        .unwrap();
        assert_eq!(header.render_string(&mut scope()), "Bearer t0k p\"wx");
        assert!(!header.is_static());
        assert_eq!(
            Template::parse("plain", Escape::Url, &TestNames)
                .unwrap()
                .as_static(),
            Some("plain".into())
        );
    }

    #[test]
    fn json_bodies_escape_strings_and_keep_numbers_bare() {
        let value: toml::Value = toml::from_str(
            "email = \"{{user.email}}\"\npassword = \"{{user.password}}\"\nproduct = \"{{rand(5, 5)}}\"\nlabel = \"n{{vu}}\"\ntags = [1, true]",
        )
        .unwrap();
        let t = json_template(&value, &TestNames).unwrap();
        let text = t.render_string(&mut scope());
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["email"], "a b@example.com");
        assert_eq!(parsed["password"], "p\"w\nx");
        assert_eq!(parsed["product"], 5);
        assert_eq!(parsed["label"], "n7");
        assert_eq!(parsed["tags"], serde_json::json!([1, true]));
    }

    #[test]
    fn functions_and_errors() {
        let t = Template::parse(
            "{{rand(1, 3)}}-{{choice(a, 'b')}}-{{uuid}}",
            Escape::None,
            &TestNames,
        )
        .unwrap();
        let mut s = scope();
        for _ in 0..50 {
            let out = t.render_string(&mut s);
            let pieces: Vec<&str> = out.splitn(3, '-').collect();
            assert!(["1", "2", "3"].contains(&pieces[0]), "{out}");
            assert!(["a", "b"].contains(&pieces[1]), "{out}");
            let uuid = pieces[2];
            assert_eq!(uuid.len(), 36);
            assert_eq!(&uuid[14..15], "4");
        }
        let err = |text: &str| Template::parse(text, Escape::None, &TestNames).unwrap_err();
        assert!(err("{{user.emial}}").contains("no column emial"));
        assert!(err("{{tokn}}").contains("never captured"));
        assert!(err("{{rand(9, 1)}}").contains("low ≤ high"));
        assert!(err("{{vu").contains("unclosed"));
        assert!(err("{{now()}}").contains("not a template function"));
    }
}
