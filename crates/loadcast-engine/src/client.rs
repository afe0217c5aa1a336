//! Connections to the target: TCP or TLS (rustls, ALPN), then HTTP/1.1 or HTTP/2 (hyper).
//! A virtual user owns its connection; a failed request is classified into an [`ErrorKind`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;
use loadcast_plan::template::{Scope, Template};
use loadcast_plan::{Body, HttpVersion, Plan, RequestSpec};
use loadcast_stats::ErrorKind;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;

use crate::EngineError;
use crate::h1::{Answer, Failure, Http1, MAX_KEPT_BODY, Want};

/// How to reach the target: resolved once, shared by every virtual user of a worker.
#[derive(Clone)]
pub(crate) struct Connector {
    addr: SocketAddr,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    version: HttpVersion,
    connect_timeout: Duration,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .field("version", &self.version)
            .finish()
    }
}

impl Connector {
    pub(crate) async fn new(plan: &Plan) -> Result<Self, EngineError> {
        let target = &plan.target;
        let addr = tokio::net::lookup_host(target.authority())
            .await
            .map_err(|e| EngineError::Unreachable {
                target: target.url(),
                cause: format!("cannot resolve {}: {e}", target.host),
            })?
            .next()
            .ok_or_else(|| EngineError::Unreachable {
                target: target.url(),
                cause: format!("{} has no address", target.host),
            })?;
        let tls = if target.is_tls() {
            let config = tls_config(plan)?;
            let name = ServerName::try_from(target.host.clone()).map_err(|e| EngineError::Tls {
                cause: format!("{} is not a valid server name: {e}", target.host),
            })?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Self {
            addr,
            tls,
            version: plan.http.version,
            connect_timeout: plan.http.connect_timeout,
        })
    }

    /// Checks once, before any load, that the target accepts connections: an unreachable target
    /// is a clear error up front, not a run full of refused connections.
    pub(crate) async fn preflight(&self, target: &str) -> Result<(), EngineError> {
        match self.connect().await {
            Ok(_) => Ok(()),
            Err(kind) => Err(EngineError::Unreachable {
                target: target.to_string(),
                cause: match kind {
                    ErrorKind::ConnectRefused => format!("connection refused by {}", self.addr),
                    ErrorKind::ConnectTimeout => format!(
                        "no answer from {} within {}",
                        self.addr,
                        humantime::format_duration(self.connect_timeout)
                    ),
                    ErrorKind::Tls => "the TLS handshake failed (is the certificate trusted? \
                                       `http.insecure = true` or `http.ca` for test certificates)"
                        .to_string(),
                    other => format!("{other} while connecting to {}", self.addr),
                },
            }),
        }
    }

    /// Opens a connection and completes the HTTP handshake.
    pub(crate) async fn connect(&self) -> Result<Connection, ErrorKind> {
        let tcp =
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(self.addr)).await {
                Err(_) => return Err(ErrorKind::ConnectTimeout),
                Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    return Err(ErrorKind::ConnectRefused);
                }
                Ok(Err(_)) => return Err(ErrorKind::Connect),
                Ok(Ok(tcp)) => tcp,
            };
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None if self.version == HttpVersion::Http2 => http2_handshake(tcp).await,
            None => Ok(Connection::Plain(Http1::new(tcp))),
            Some((connector, name)) => {
                let tls = tokio::time::timeout(
                    self.connect_timeout,
                    connector.connect(name.clone(), tcp),
                )
                .await
                .map_err(|_| ErrorKind::ConnectTimeout)?
                .map_err(|_| ErrorKind::Tls)?;
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    http2_handshake(tls).await
                } else {
                    Ok(Connection::Tls(Box::new(Http1::new(tls))))
                }
            }
        }
    }
}

async fn http2_handshake<T>(io: T) -> Result<Connection, ErrorKind>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    let (sender, conn) = http2::Builder::new(LocalExec)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| classify(&e))?;
    tokio::task::spawn_local(conn);
    Ok(Connection::H2(sender))
}

/// Runs hyper's background tasks on the worker's own thread.
#[derive(Clone, Copy, Debug)]
struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, future: F) {
        tokio::task::spawn_local(future);
    }
}

fn tls_config(plan: &Plan) -> Result<rustls::ClientConfig, EngineError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| EngineError::Tls {
            cause: e.to_string(),
        })?;
    let mut config = if plan.http.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(ca) = &plan.http.ca_file {
            let certs = CertificateDer::pem_file_iter(ca)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| EngineError::Tls {
                    cause: format!("cannot read CA file {}: {e}", ca.display()),
                })?;
            for cert in certs {
                roots.add(cert).map_err(|e| EngineError::Tls {
                    cause: format!("bad certificate in {}: {e}", ca.display()),
                })?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = match plan.http.version {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    };
    Ok(config)
}

/// `http.insecure = true`: accept self-signed test certificates (signatures are still checked).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An open HTTP connection owned by one virtual user.
#[derive(Debug)]
pub(crate) enum Connection {
    Plain(Http1<TcpStream>),
    Tls(Box<Http1<tokio_rustls::client::TlsStream<TcpStream>>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Connection {
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Connection::Plain(c) => c.is_closed(),
            Connection::Tls(c) => c.is_closed(),
            Connection::H2(s) => s.is_closed(),
        }
    }

    /// Whether a failure with no answer may just mean the server closed this idle connection.
    pub(crate) fn is_reused(&self) -> bool {
        match self {
            Connection::Plain(c) => c.is_reused(),
            Connection::Tls(c) => c.is_reused(),
            Connection::H2(_) => false,
        }
    }

    pub(crate) fn is_h2(&self) -> bool {
        matches!(self, Connection::H2(_))
    }

    /// Sends one request and reads the whole response, counting its body's bytes and keeping
    /// what `want` asks for.
    pub(crate) async fn exchange(
        &mut self,
        message: Message<'_>,
        head_only: bool,
        want: &Want,
    ) -> Result<Answer, Failure> {
        match (self, message) {
            (Connection::Plain(c), Message::H1(wire)) => c.exchange(wire, head_only, want).await,
            (Connection::Tls(c), Message::H1(wire)) => c.exchange(wire, head_only, want).await,
            (Connection::H2(sender), Message::H2(request)) => h2_exchange(sender, *request, want)
                .await
                .map_err(Failure::Answer),
            // The caller renders for the connection it holds; a mismatch is a bug, reported as a
            // protocol error rather than a panic in the middle of a run.
            _ => Err(Failure::Answer(ErrorKind::Protocol)),
        }
    }
}

/// A request rendered for the connection that will carry it.
#[derive(Debug)]
pub(crate) enum Message<'a> {
    /// The serialized HTTP/1.1 request.
    H1(&'a [u8]),
    H2(Box<Request<Full<Bytes>>>),
}

async fn h2_exchange(
    sender: &mut http2::SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    want: &Want,
) -> Result<Answer, ErrorKind> {
    sender.ready().await.map_err(|e| classify(&e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| classify(&e))?;
    let status = response.status().as_u16();
    let headers = want
        .headers
        .iter()
        .flat_map(|name| {
            response
                .headers()
                .get_all(name.as_str())
                .iter()
                .map(move |v| {
                    (
                        name.clone(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
        })
        .collect();
    let mut body = response.into_body();
    let mut received = 0u64;
    let mut kept = want.body.then(Vec::new);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| classify(&e))?;
        if let Some(data) = frame.data_ref() {
            received += data.len() as u64;
            if let Some(kept) = kept.as_mut() {
                let room = MAX_KEPT_BODY.saturating_sub(kept.len()).min(data.len());
                kept.extend_from_slice(&data[..room]);
            }
        }
    }
    Ok(Answer {
        status,
        body_bytes: received,
        body: kept,
        headers,
    })
}

/// A plan request made ready before the run: serialized once when nothing in it varies, and
/// otherwise split into fixed bytes and templates rendered per user.
#[derive(Clone, Debug)]
pub(crate) struct PreparedRequest {
    pub method: Method,
    /// The whole HTTP/1.1 request when nothing varies: written as is.
    fixed_wire: Option<Bytes>,
    path: Template,
    /// `name: value\r\n` lines of every fixed header (host, user agent, content type, plan).
    fixed_head: Vec<u8>,
    /// Fixed headers again, for HTTP/2.
    fixed_headers: HeaderMap,
    templated_headers: Vec<(HeaderName, Template)>,
    body: PreparedBody,
    /// `scheme://authority`, for HTTP/2 URIs.
    origin: String,
}

#[derive(Clone, Debug)]
enum PreparedBody {
    Fixed(Bytes),
    Template(Template),
}

impl PreparedRequest {
    pub(crate) fn new(plan: &Plan, spec: &RequestSpec) -> Result<Self, EngineError> {
        let invalid = |what: String| EngineError::InvalidRequest {
            name: spec.name.clone(),
            cause: what,
        };
        let mut fixed_headers = HeaderMap::new();
        let host = if (plan.target.is_tls() && plan.target.port == 443)
            || (!plan.target.is_tls() && plan.target.port == 80)
        {
            plan.target.host.clone()
        } else {
            plan.target.authority()
        };
        fixed_headers.insert(
            header::HOST,
            HeaderValue::from_str(&host).map_err(|e| invalid(format!("bad host: {e}")))?,
        );
        fixed_headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("loadcast/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(ct) = spec.body.content_type() {
            fixed_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        let mut templated_headers: Vec<(HeaderName, Template)> = Vec::new();
        for (name, value) in plan.http.headers.iter().chain(&spec.headers) {
            // A step's header replaces the plan-wide one of the same name.
            fixed_headers.remove(name);
            templated_headers.retain(|(n, _)| n != name);
            match value.as_static() {
                Some(text) => {
                    let value = HeaderValue::from_str(&text)
                        .map_err(|e| invalid(format!("bad header {name}: {e}")))?;
                    fixed_headers.insert(name.clone(), value);
                }
                None => templated_headers.push((name.clone(), value.clone())),
            }
        }
        let mut fixed_head = Vec::with_capacity(256);
        for (name, value) in &fixed_headers {
            fixed_head.extend_from_slice(name.as_str().as_bytes());
            fixed_head.extend_from_slice(b": ");
            fixed_head.extend_from_slice(value.as_bytes());
            fixed_head.extend_from_slice(b"\r\n");
        }
        let body = match &spec.body {
            Body::Empty => PreparedBody::Fixed(Bytes::new()),
            Body::Bytes { content, .. } => PreparedBody::Fixed(Bytes::from(content.clone())),
            Body::Template { template, .. } => PreparedBody::Template(template.clone()),
        };
        let mut prepared = Self {
            method: spec.method.clone(),
            fixed_wire: None,
            path: spec.path.clone(),
            fixed_head,
            fixed_headers,
            templated_headers,
            body,
            origin: format!("{}://{}", plan.target.scheme, plan.target.authority()),
        };
        if let (Some(path), PreparedBody::Fixed(body), true) = (
            spec.path.as_static(),
            &prepared.body,
            prepared.templated_headers.is_empty(),
        ) {
            let _: http::uri::PathAndQuery = path
                .parse()
                .map_err(|e| invalid(format!("bad path {path:?}: {e}")))?;
            let mut wire = Vec::with_capacity(256 + body.len());
            prepared.write_h1_head(path.as_bytes(), &[], None, body.len(), &mut wire);
            wire.extend_from_slice(body);
            prepared.fixed_wire = Some(Bytes::from(wire));
        }
        Ok(prepared)
    }

    /// Size of the fixed request on the wire, when it is fixed.
    pub(crate) fn fixed_size(&self) -> Option<u64> {
        self.fixed_wire.as_ref().map(|w| w.len() as u64)
    }

    /// The HTTP/1.1 bytes to send: the fixed request when nothing varies and no cookie is due,
    /// otherwise rendered for this user into `scratch`.
    pub(crate) fn h1_wire<'a>(
        &'a self,
        scope: &mut dyn Scope,
        cookie: Option<&str>,
        scratch: &'a mut Vec<u8>,
    ) -> &'a [u8] {
        if let (Some(wire), None) = (&self.fixed_wire, cookie) {
            return wire;
        }
        let mut path = Vec::with_capacity(64);
        self.path.render(scope, &mut path);
        let mut headers = Vec::new();
        for (name, template) in &self.templated_headers {
            headers.push((name, template.render_string(scope)));
        }
        let body = self.render_body(scope);
        scratch.clear();
        self.write_h1_head(&path, &headers, cookie, body.len(), scratch);
        scratch.extend_from_slice(&body);
        scratch
    }

    fn render_body(&self, scope: &mut dyn Scope) -> Bytes {
        match &self.body {
            PreparedBody::Fixed(bytes) => bytes.clone(),
            PreparedBody::Template(t) => {
                let mut out = Vec::with_capacity(128);
                t.render(scope, &mut out);
                Bytes::from(out)
            }
        }
    }

    fn write_h1_head(
        &self,
        path: &[u8],
        templated: &[(&HeaderName, String)],
        cookie: Option<&str>,
        body_len: usize,
        wire: &mut Vec<u8>,
    ) {
        wire.extend_from_slice(self.method.as_str().as_bytes());
        wire.push(b' ');
        wire.extend_from_slice(path);
        wire.extend_from_slice(b" HTTP/1.1\r\n");
        wire.extend_from_slice(&self.fixed_head);
        for (name, value) in templated {
            wire.extend_from_slice(name.as_str().as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(value.as_bytes());
            wire.extend_from_slice(b"\r\n");
        }
        if let Some(cookie) = cookie {
            wire.extend_from_slice(b"cookie: ");
            wire.extend_from_slice(cookie.as_bytes());
            wire.extend_from_slice(b"\r\n");
        }
        let needs_length =
            body_len > 0 || matches!(self.method, Method::POST | Method::PUT | Method::PATCH);
        if needs_length && !self.fixed_headers.contains_key(header::CONTENT_LENGTH) {
            wire.extend_from_slice(format!("content-length: {body_len}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
    }

    /// The request for an HTTP/2 connection, rendered for this user.
    pub(crate) fn h2_request(
        &self,
        scope: &mut dyn Scope,
        cookie: Option<&str>,
    ) -> Result<Request<Full<Bytes>>, ErrorKind> {
        let mut path = Vec::with_capacity(64);
        self.path.render(scope, &mut path);
        let uri = format!("{}{}", self.origin, String::from_utf8_lossy(&path));
        let mut request = Request::new(Full::new(self.render_body(scope)));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri.parse().map_err(|_| ErrorKind::Protocol)?;
        let headers = request.headers_mut();
        *headers = self.fixed_headers.clone();
        // HTTP/2 carries the authority in the URI; a Host header is not allowed there.
        headers.remove(header::HOST);
        for (name, template) in &self.templated_headers {
            let value = HeaderValue::from_str(&template.render_string(scope))
                .map_err(|_| ErrorKind::Protocol)?;
            headers.insert(name.clone(), value);
        }
        if let Some(cookie) = cookie {
            let value = HeaderValue::from_str(cookie).map_err(|_| ErrorKind::Protocol)?;
            headers.insert(header::COOKIE, value);
        }
        Ok(request)
    }

    /// The request's path for cookie matching (rendered only when it varies).
    pub(crate) fn path_for_cookies(&self, scope: &mut dyn Scope) -> String {
        match self.path.as_static() {
            Some(p) => p,
            None => self.path.render_string(scope),
        }
    }
}

/// Maps hyper's error to the taxonomy, looking at the underlying I/O error where there is one.
pub(crate) fn classify(error: &hyper::Error) -> ErrorKind {
    if error.is_timeout() {
        return ErrorKind::Timeout;
    }
    if error.is_parse() || error.is_parse_status() {
        return ErrorKind::Protocol;
    }
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::TimedOut => ErrorKind::Timeout,
                io::ErrorKind::InvalidData => ErrorKind::Tls,
                _ => ErrorKind::Reset,
            };
        }
        source = e.source();
    }
    // Closed, canceled or incomplete: the connection went away under the request.
    ErrorKind::Reset
}

impl PreparedRequest {
    /// Safe to repeat when a kept-alive connection was found closed before any answer.
    pub(crate) fn is_idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        )
    }
}
