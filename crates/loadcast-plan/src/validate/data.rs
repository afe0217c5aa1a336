//! `[history]`, `[horizon]`, `[capacity]`, `[database]` and `[feeders]`: where the data comes
//! from and how much of it the plan tests with.

use loadcast_forecast::history::SeriesKind;

use super::*;

impl Validator<'_> {
    pub(super) fn history(&mut self, raw: &Spanned<RawHistory>) -> Option<HistorySpec> {
        let h = raw.get_ref();
        if h.traffic.is_empty() && h.data.is_empty() {
            self.error(
                raw,
                "history",
                "no series declared",
                Some("traffic = [\"requests_per_s\"] and/or data = { orders = \"orders_rows\" }"),
            );
            return None;
        }
        let csv = self.base_dir.join(h.csv.get_ref());
        if !csv.is_file() {
            self.error(
                &h.csv,
                "history.csv",
                format!("no such file: {}", csv.display()),
                Some("a CSV file of history, relative to the plan"),
            );
            return None;
        }
        let mut ok = true;
        let mut data = Vec::new();
        let mut shapes = Vec::new();
        for (name, column) in &h.data {
            // The command line's own syntax: `orders = "orders_rows:linear"` pins a shape.
            let spec = format!("{name}={}", column.get_ref());
            match loadcast_forecast::history::SeriesSpec::parse(&spec, SeriesKind::Data) {
                Ok(series) => {
                    data.push((series.name.clone(), series.source));
                    shapes.extend(series.shape.map(|shape| (series.name, shape)));
                }
                Err(message) => {
                    self.error(
                        column,
                        format!("history.data.{name}"),
                        message,
                        Some("a column, optionally with a growth shape: \"orders_rows\" or \"orders_rows:linear\""),
                    );
                    ok = false;
                }
            }
        }
        let events = h.events.as_ref().and_then(|e| {
            let path = self.base_dir.join(e.get_ref());
            if path.is_file() {
                Some(path)
            } else {
                self.error(
                    e,
                    "history.events",
                    format!("no such file: {}", path.display()),
                    Some("a CSV of start[,end][,name] lines, relative to the plan"),
                );
                ok = false;
                None
            }
        });
        let resample = h.resample.as_ref().and_then(|r| match r
            .get_ref()
            .parse::<loadcast_forecast::resample::Resample>(
        ) {
            Ok(resample) => Some(resample),
            Err(message) => {
                self.error(
                    r,
                    "history.resample",
                    message,
                    Some("\"1d\", \"1w:max\", \"1month:sum\""),
                );
                ok = false;
                None
            }
        });
        let clock = h.tz.as_ref().and_then(|tz| {
            match loadcast_forecast::clock::WallClock::new(tz.get_ref()) {
                Ok(clock) => Some(clock),
                Err(message) => {
                    self.error(
                        tz,
                        "history.tz",
                        message,
                        Some("an IANA time zone: \"Europe/Berlin\", \"America/New_York\""),
                    );
                    ok = false;
                    None
                }
            }
        });
        ok.then(|| HistorySpec {
            csv,
            timestamp: h.timestamp.as_ref().map(|t| t.get_ref().clone()),
            traffic: h.traffic.iter().map(|t| t.get_ref().clone()).collect(),
            data,
            shapes,
            events,
            resample,
            clock,
        })
    }

    pub(super) fn horizon(&mut self, raw: &Spanned<RawHorizon>) -> Option<HorizonSpec> {
        let h = raw.get_ref();
        let until = self.unit(&h.until, "horizon.until", units::parse_duration);
        let mut bound = |value: &Option<Spanned<String>>, key: &str, default: Bound| match value {
            None => Some(default),
            Some(v) => {
                let parsed = Bound::parse(v.get_ref());
                if parsed.is_none() {
                    self.error(
                        v,
                        key,
                        format!("{:?} is not a forecast bound", v.get_ref()),
                        Some("\"peak\" (the point forecast), \"p80\" or \"p95\" (upper bounds)"),
                    );
                }
                parsed
            }
        };
        let traffic = bound(&h.traffic, "horizon.traffic", Bound::Point);
        let data = bound(&h.data, "horizon.data", Bound::Point);
        Some(HorizonSpec {
            until: until?,
            traffic: traffic?,
            data: data?,
        })
    }

    pub(super) fn capacity(&mut self, raw: &Spanned<RawCapacity>) -> Option<CapacitySpec> {
        let c = raw.get_ref();
        let mut ok = true;
        let from = match &c.from {
            None => None,
            Some(r) => {
                let v = self.unit(r, "capacity.from", units::parse_rate);
                ok &= v.is_some();
                v
            }
        };
        let factor = match &c.factor {
            Some(f) if *f.get_ref() <= 1.0 => {
                self.error(
                    f,
                    "capacity.factor",
                    format!("{} does not grow", f.get_ref()),
                    Some("a factor above 1, such as 1.5"),
                );
                ok = false;
                None
            }
            Some(f) => Some(*f.get_ref()),
            None => None,
        };
        let mut duration = |v: &Option<Spanned<String>>, key: &str| match v {
            None => Some(None),
            Some(v) => self.unit(v, key, units::parse_duration).map(Some),
        };
        let hold = duration(&c.hold, "capacity.hold");
        let warmup = duration(&c.warmup, "capacity.warmup");
        let mut data_scales = Vec::new();
        for (i, s) in c.data_scales.iter().enumerate() {
            match DataScale::parse(s.get_ref()) {
                Some(scale) => data_scales.push(scale),
                None => {
                    self.error(
                        s,
                        format!("capacity.data_scales[{i}]"),
                        format!("{:?} is not a data scale", s.get_ref()),
                        Some("a multiple of today's data such as \"2x\", or \"horizon\""),
                    );
                    ok = false;
                }
            }
        }
        let mut users = Vec::new();
        for (i, u) in c.users.iter().enumerate() {
            match u32::try_from(*u.get_ref()) {
                Ok(n) if n >= 1 => users.push(n),
                _ => {
                    self.error(
                        u,
                        format!("capacity.users[{i}]"),
                        format!("{} is not a number of users", u.get_ref()),
                        Some("a whole number of at least 1"),
                    );
                    ok = false;
                }
            }
        }
        let repeat = match &c.repeat {
            None => None,
            Some(r) => match usize::try_from(*r.get_ref()) {
                Ok(n) if (1..=MAX_REPEAT).contains(&n) => Some(n),
                _ => {
                    self.error(
                        r,
                        "capacity.repeat",
                        format!("{} is not a number of searches", r.get_ref()),
                        Some(&format!("a whole number from 1 to {MAX_REPEAT}, such as 3")),
                    );
                    ok = false;
                    None
                }
            },
        };
        let (hold, warmup) = (hold?, warmup?);
        ok.then(|| CapacitySpec {
            from,
            factor,
            hold,
            warmup,
            data_scales,
            table: c.table.as_ref().map(|t| t.get_ref().clone()),
            users,
            repeat,
        })
    }

    pub(super) fn database(&mut self, raw: &Spanned<RawDatabase>) -> Option<DatabaseSpec> {
        let d = raw.get_ref();
        let url = self.env(&d.url, "database.url")?;
        let known = [
            "postgres://",
            "postgresql://",
            "mysql://",
            "mariadb://",
            "sqlite://",
        ];
        if !known.iter().any(|k| url.starts_with(k)) {
            self.error(
                &d.url,
                "database.url",
                format!(
                    "{:?} is not a database URL loadcast can grow",
                    redact_url(&url)
                ),
                Some("postgres://user@host/db, mysql://user@host/db or sqlite://path/to.db"),
            );
            return None;
        }
        let mut tables = Vec::new();
        let mut ok = true;
        for (name, spanned) in &d.tables {
            let key = format!("database.tables.{name}");
            let t = spanned.get_ref();
            let rows = match RowsTarget::parse(t.rows.get_ref()) {
                Ok(rows) => Some(rows),
                Err(expected) => {
                    self.error(
                        &t.rows,
                        format!("{key}.rows"),
                        format!("{} is not valid", t.rows.get_ref()),
                        Some(expected),
                    );
                    None
                }
            };
            let mut columns = Vec::new();
            for (column, value) in &t.columns {
                let key = format!("{key}.columns.{column}");
                let parsed = match value.get_ref() {
                    toml::Value::Table(table) => Generator::parse_column(table),
                    _ => Err("a table such as { fake = \"email\" }".to_string()),
                };
                match parsed {
                    Ok(spec) => columns.push((column.clone(), spec)),
                    Err(message) => {
                        // The generators' messages show the form they take: say so.
                        let message = if message.contains(" = ") && !message.contains(':') {
                            format!("expected {message}")
                        } else {
                            message
                        };
                        self.error(value, &key, message, None);
                        ok = false;
                    }
                }
            }
            match rows {
                Some(rows) => tables.push(TableSpec {
                    name: name.clone(),
                    rows,
                    columns,
                }),
                None => ok = false,
            }
        }
        let pool = self.pool(d);
        ok.then(|| {
            Some(DatabaseSpec {
                url,
                require_marker: d.require_marker.unwrap_or(true),
                pool: pool?,
                observe: d.observe.unwrap_or(true),
                tables,
            })
        })
        .flatten()
    }

    /// `connections = "pool"` with `pool_size` (default 10), or `"per_user"` (the default).
    fn pool(&mut self, d: &RawDatabase) -> Option<Option<u32>> {
        const EXPECTED: &str = "\"per_user\" (each virtual user its own connection) or \"pool\"";
        let pooled = match &d.connections {
            None => false,
            Some(c) if c.get_ref() == "per_user" => false,
            Some(c) if c.get_ref() == "pool" => true,
            Some(c) => {
                self.error(
                    c,
                    "database.connections",
                    format!("{:?} is not a connection mode", c.get_ref()),
                    Some(EXPECTED),
                );
                return None;
            }
        };
        match &d.pool_size {
            None => Some(pooled.then_some(10)),
            Some(size) if !pooled => {
                self.error(
                    size,
                    "database.pool_size",
                    "pool_size is the size of a pool",
                    Some("connections = \"pool\" beside it"),
                );
                None
            }
            Some(size) if (1..=10_000).contains(size.get_ref()) => {
                Some(Some(*size.get_ref() as u32))
            }
            Some(size) => {
                self.error(
                    size,
                    "database.pool_size",
                    format!("{} is not a pool size", size.get_ref()),
                    Some("a whole number from 1 to 10000"),
                );
                None
            }
        }
    }

    pub(super) fn feeders(&mut self, raw: &BTreeMap<String, Spanned<RawFeeder>>) -> Vec<Feeder> {
        const RESERVED: [&str; 6] = ["vu", "iteration", "uuid", "rand", "choice", "env"];
        let mut feeders = Vec::new();
        for (name, spanned) in raw {
            let key = format!("feeders.{name}");
            let f = spanned.get_ref();
            if RESERVED.contains(&name.as_str()) || name.contains('.') {
                self.error(
                    spanned,
                    &key,
                    format!("{name:?} cannot name a feeder"),
                    Some("a name that is not vu, iteration, uuid, rand, choice or env"),
                );
                continue;
            }
            let file = match (&f.csv, &f.jsonl) {
                (Some(file), None) | (None, Some(file)) => file,
                _ => {
                    self.error(
                        spanned,
                        &key,
                        "a feeder reads exactly one file",
                        Some("csv = \"users.csv\" or jsonl = \"users.jsonl\""),
                    );
                    continue;
                }
            };
            let strategy = match &f.strategy {
                None => FeederStrategy::Unique,
                Some(s) => match FeederStrategy::parse(s.get_ref()) {
                    Some(strategy) => strategy,
                    None => {
                        self.error(
                            s,
                            format!("{key}.strategy"),
                            format!("{:?} is not a feeder strategy", s.get_ref()),
                            Some("\"unique\", \"sequential\", \"random\" or \"circular\""),
                        );
                        continue;
                    }
                },
            };
            let path = self.base_dir.join(file.get_ref());
            let data = match FeederData::load(&path) {
                Ok(data) => data,
                Err(e) => {
                    self.error(
                        file,
                        format!("{key}.{}", if f.csv.is_some() { "csv" } else { "jsonl" }),
                        e.to_string(),
                        Some("a readable CSV file with a header row, or JSON lines"),
                    );
                    continue;
                }
            };
            let columns = data.columns();
            let mut secret = Vec::new();
            for column in &f.secret {
                if columns.iter().any(|c| c == column.get_ref()) {
                    secret.push(column.get_ref().clone());
                } else {
                    self.error(
                        column,
                        format!("{key}.secret"),
                        format!(
                            "{:?} is not a column of {}",
                            column.get_ref(),
                            file.get_ref()
                        ),
                        Some(&format!("one of its columns: {}", columns.join(", "))),
                    );
                }
            }
            feeders.push(Feeder {
                name: name.clone(),
                path,
                strategy,
                reuse: f.reuse,
                secret,
                data: Arc::new(data),
            });
        }
        feeders
    }

    /// A `unique` feeder needs a row for every closed-model user that exists at once: fewer
    /// rows is an error before the run, unless the plan allows reuse. (Open-model arrivals are
    /// new users each; the rows they lack are counted at run time and linted.)
    pub(super) fn unique_feeders_cover_users(
        &mut self,
        plan: &Plan,
        raw: &BTreeMap<String, Spanned<RawFeeder>>,
    ) {
        let peak = plan.peak_closed_users();
        for feeder in &plan.feeders {
            let rows = feeder.data.rows() as u64;
            if feeder.strategy == FeederStrategy::Unique && !feeder.reuse && rows < peak {
                if let Some(spanned) = raw.get(&feeder.name) {
                    self.error(
                        spanned,
                        format!("feeders.{}", feeder.name),
                        format!(
                            "{} has {rows} rows but the load may have {peak} virtual users at once",
                            feeder.path.display()
                        ),
                        Some(
                            "a row per virtual user: more rows, fewer users (load.users or \
                             load.max_in_flight), or reuse = true to share rows",
                        ),
                    );
                }
            }
        }
    }
}
