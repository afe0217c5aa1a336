//! Connections to the target: TCP or TLS (rustls, ALPN), then HTTP/1.1 or HTTP/2 (hyper).
//! A virtual user owns its connection; a failed request is classified into an [`ErrorKind`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;
use loadcast_plan::{Body, HttpVersion, Plan, RequestSpec};
use loadcast_stats::ErrorKind;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;

use crate::EngineError;
use crate::h1::{Failure, Http1};

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

    /// Sends one request and reads the whole response body, counting its bytes.
    pub(crate) async fn exchange(
        &mut self,
        request: &PreparedRequest,
    ) -> Result<Response, Failure> {
        let head_only = request.method == Method::HEAD;
        let answer = match self {
            Connection::Plain(c) => c.exchange(&request.h1_wire, head_only).await?,
            Connection::Tls(c) => c.exchange(&request.h1_wire, head_only).await?,
            Connection::H2(sender) => {
                return h2_exchange(sender, request).await.map_err(Failure::Answer);
            }
        };
        Ok(Response {
            status: answer.status,
            body_bytes: answer.body_bytes,
        })
    }
}

async fn h2_exchange(
    sender: &mut http2::SendRequest<Full<Bytes>>,
    request: &PreparedRequest,
) -> Result<Response, ErrorKind> {
    let mut req = Request::new(Full::new(request.body.clone()));
    *req.method_mut() = request.method.clone();
    *req.uri_mut() = request.absolute_uri.clone();
    *req.headers_mut() = request.headers.clone();
    // HTTP/2 carries the authority in the URI; a Host header is not allowed there.
    req.headers_mut().remove(header::HOST);
    sender.ready().await.map_err(|e| classify(&e))?;
    let response = sender.send_request(req).await.map_err(|e| classify(&e))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| classify(&e))?;
        if let Some(data) = frame.data_ref() {
            received += data.len() as u64;
        }
    }
    Ok(Response {
        status,
        body_bytes: received,
    })
}

/// What the engine keeps of a response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body_bytes: u64,
}

/// A plan request turned into ready-to-send parts once, before the run.
#[derive(Clone, Debug)]
pub(crate) struct PreparedRequest {
    pub method: Method,
    /// The whole HTTP/1.1 request, head and body, ready to write.
    pub h1_wire: Bytes,
    /// `scheme://authority/path?query` for HTTP/2.
    pub absolute_uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Approximate bytes on the wire for the request head and body.
    pub wire_size: u64,
}

impl PreparedRequest {
    pub(crate) fn new(plan: &Plan, spec: &RequestSpec) -> Result<Self, EngineError> {
        let invalid = |what: String| EngineError::InvalidRequest {
            name: spec.name.clone(),
            cause: what,
        };
        let absolute_uri: Uri = format!(
            "{}://{}{}",
            plan.target.scheme,
            plan.target.authority(),
            spec.path_and_query
        )
        .parse()
        .map_err(|e| invalid(format!("bad URL: {e}")))?;
        let mut headers = HeaderMap::new();
        let host = if (plan.target.is_tls() && plan.target.port == 443)
            || (!plan.target.is_tls() && plan.target.port == 80)
        {
            plan.target.host.clone()
        } else {
            plan.target.authority()
        };
        headers.insert(
            header::HOST,
            HeaderValue::from_str(&host).map_err(|e| invalid(format!("bad host: {e}")))?,
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("loadcast/", env!("CARGO_PKG_VERSION"))),
        );
        let body = match &spec.body {
            Body::Empty => Bytes::new(),
            Body::Bytes {
                content,
                content_type,
            } => {
                if let Some(ct) = content_type {
                    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
                }
                Bytes::from(content.clone())
            }
        };
        for (name, value) in plan.http.headers.iter().chain(&spec.headers) {
            headers.insert(name.clone(), value.clone());
        }
        let h1_wire = serialize_http1(&spec.method, &spec.path_and_query, &headers, &body);
        Ok(Self {
            method: spec.method.clone(),
            wire_size: h1_wire.len() as u64,
            h1_wire,
            absolute_uri,
            headers,
            body,
        })
    }
}

fn serialize_http1(method: &Method, path: &str, headers: &HeaderMap, body: &Bytes) -> Bytes {
    let mut wire = Vec::with_capacity(256 + body.len());
    wire.extend_from_slice(method.as_str().as_bytes());
    wire.push(b' ');
    wire.extend_from_slice(path.as_bytes());
    wire.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        wire.extend_from_slice(name.as_str().as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    let needs_length =
        !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if needs_length && !headers.contains_key(header::CONTENT_LENGTH) {
        wire.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    wire.extend_from_slice(body);
    Bytes::from(wire)
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
