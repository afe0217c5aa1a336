//! `target` and `[http]`: where requests go and how (timeouts, TLS, headers, cookies).

use super::*;

impl Validator<'_> {
    pub(super) fn target(&mut self, raw: &Spanned<String>) -> Option<Target> {
        const EXPECTED: &str = "an http:// or https:// URL such as \"http://127.0.0.1:8080\"";
        let text = self.env(raw, "target")?;
        let Ok(uri) = text.parse::<Uri>() else {
            self.error(
                raw,
                "target",
                format!("{text:?} is not a URL"),
                Some(EXPECTED),
            );
            return None;
        };
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let Some(host) = uri.host().filter(|_| scheme == "http" || scheme == "https") else {
            self.error(
                raw,
                "target",
                format!("{text:?} has no http(s) scheme and host"),
                Some(EXPECTED),
            );
            return None;
        };
        if uri.query().is_some() {
            self.error(
                raw,
                "target",
                format!("{text:?} has a query string"),
                Some("a base URL without a query (put queries in steps)"),
            );
            return None;
        }
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        Some(Target {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            scheme,
            port,
            base_path: uri.path().trim_end_matches('/').to_string(),
        })
    }

    pub(super) fn http(&mut self, raw: &RawHttp) -> Option<HttpSettings> {
        let mut ok = true;
        let version = match raw.version.as_ref() {
            None => HttpVersion::Auto,
            Some(v) => match v.get_ref().as_str() {
                "auto" => HttpVersion::Auto,
                "1.1" | "http1" | "http/1.1" => HttpVersion::Http1,
                "2" | "h2" | "http2" | "http/2" => HttpVersion::Http2,
                other => {
                    self.error(
                        v,
                        "http.version",
                        format!("{other:?} is not an HTTP version"),
                        Some("\"auto\", \"1.1\" or \"2\""),
                    );
                    ok = false;
                    HttpVersion::Auto
                }
            },
        };
        let mut duration = |v: &Option<Spanned<String>>, key: &str, default: Duration| match v {
            None => Some(default),
            Some(v) => self.unit(v, key, units::parse_duration),
        };
        let timeout = duration(&raw.timeout, "http.timeout", DEFAULT_TIMEOUT);
        let connect_timeout = duration(
            &raw.connect_timeout,
            "http.connect_timeout",
            DEFAULT_CONNECT_TIMEOUT,
        );
        // What a response may still take, but not the half hour a long timeout would hold the
        // run's end for (k6's gracefulStop is 30 s too).
        let default_stop = timeout
            .unwrap_or(DEFAULT_TIMEOUT)
            .clamp(Duration::from_secs(1), Duration::from_secs(30));
        let graceful_stop = duration(&raw.graceful_stop, "http.graceful_stop", default_stop);
        let ca_file = match &raw.ca {
            None => None,
            Some(ca) => {
                let path = self.base_dir.join(ca.get_ref());
                if !path.is_file() {
                    self.error(
                        ca,
                        "http.ca",
                        format!("no such file: {}", path.display()),
                        Some("a PEM file of CA certificates, relative to the plan"),
                    );
                    ok = false;
                }
                Some(path)
            }
        };
        let headers = self.headers(&raw.headers, "http.headers");
        let connections = match raw.connections.as_ref() {
            None => ConnectionMode::PerUser,
            Some(c) => match c.get_ref().as_str() {
                "per_user" | "per-user" => ConnectionMode::PerUser,
                "shared" => ConnectionMode::Shared,
                other => {
                    self.error(
                        c,
                        "http.connections",
                        format!("{other:?} is not a connection mode"),
                        Some("\"per_user\" (each virtual user its own) or \"shared\" (a pool)"),
                    );
                    ok = false;
                    ConnectionMode::PerUser
                }
            },
        };
        if !ok {
            return None;
        }
        Some(HttpSettings {
            version,
            timeout: timeout?,
            connect_timeout: connect_timeout?,
            graceful_stop: graceful_stop?,
            insecure: raw.insecure,
            ca_file,
            headers: headers?,
            cookies: raw.cookies.unwrap_or(true),
            connections,
        })
    }

    pub(super) fn headers(
        &mut self,
        raw: &std::collections::BTreeMap<String, Spanned<String>>,
        key: &str,
    ) -> Option<Vec<(HeaderName, Template)>> {
        let mut headers = Vec::new();
        let mut ok = true;
        for (name, value) in raw {
            let key = format!("{key}.{name}");
            let Ok(header_name) = HeaderName::from_bytes(name.as_bytes()) else {
                self.error(
                    value,
                    &key,
                    format!("{name:?} is not a valid header name"),
                    Some("letters, digits and '-'"),
                );
                ok = false;
                continue;
            };
            let Some(template) = self.template(value, &key, Escape::Header) else {
                ok = false;
                continue;
            };
            let fixed_parts = template
                .parts
                .iter()
                .filter_map(|p| match p {
                    template::Part::Text(t) => Some(t.as_str()),
                    template::Part::Expr(..) => None,
                })
                .collect::<String>();
            match HeaderValue::from_str(&fixed_parts) {
                Ok(_) => headers.push((header_name, template)),
                Err(_) => {
                    self.error(
                        value,
                        &key,
                        "the header value has characters HTTP does not allow",
                        Some("visible ASCII without line breaks"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(headers)
    }
}
