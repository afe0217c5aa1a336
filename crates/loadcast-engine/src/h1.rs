//! The HTTP/1.1 client of the hot path.
//!
//! A load generator sends the same few requests millions of times on connections it owns, one
//! request at a time. A general client (a connection task, channels, per-request header maps,
//! 8 KiB buffers) costs more CPU per request than the target's own server and more memory per
//! connection than the socket. This one writes a pre-serialized request and reads the answer in
//! place on the virtual user's own task: no task, no channel, one small buffer. Parsing is
//! `httparse`'s; what is written here is only the framing (`Content-Length`, chunked, close).

use std::io;

use loadcast_stats::ErrorKind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Initial read buffer: a typical response head fits; it grows only for larger heads.
const INITIAL_BUFFER: usize = 1024;
/// A response head larger than this is refused as a protocol error.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;
/// Most body bytes kept for captures and checks; the rest is counted, not kept.
pub(crate) const MAX_KEPT_BODY: usize = 4 << 20;

/// What of a response the step needs beyond its status: nothing, on the fast path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Want {
    /// Keep the body (captures and checks read it).
    pub body: bool,
    /// Keep these headers (lower-case names); `set-cookie` when the user keeps cookies.
    pub headers: Vec<String>,
}

/// What a response said, as far as the engine needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub body_bytes: u64,
    /// The body, when wanted (up to [`MAX_KEPT_BODY`]).
    pub body: Option<Vec<u8>>,
    /// Wanted headers as (lower-case name, value), in arrival order.
    pub headers: Vec<(String, String)>,
}

/// An HTTP/1.1 connection owned by one virtual user.
#[derive(Debug)]
pub(crate) struct Http1<S> {
    io: S,
    buf: Vec<u8>,
    /// Bytes of `buf` that are filled.
    filled: usize,
    /// The server said `Connection: close`, or the body ran to end of stream.
    closed: bool,
    /// Requests completed on this connection (a reused connection may have been closed idle).
    completed: u64,
}

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Http1<S> {
    pub(crate) fn new(io: S) -> Self {
        Self {
            io,
            buf: vec![0; INITIAL_BUFFER],
            filled: 0,
            closed: false,
            completed: 0,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether this connection has already carried a request: if it fails before any byte of an
    /// answer, the server may simply have closed it while idle.
    pub(crate) fn is_reused(&self) -> bool {
        self.completed > 0
    }

    /// Sends one serialized request and reads its whole response, counting the body's bytes.
    pub(crate) async fn exchange(
        &mut self,
        wire: &[u8],
        head_only: bool,
        want: &Want,
    ) -> Result<Answer, Failure> {
        self.io
            .write_all(wire)
            .await
            .map_err(Failure::before_answer)?;
        self.io.flush().await.map_err(Failure::before_answer)?;
        loop {
            let head = self.read_head(want).await?;
            if (100..200).contains(&head.status) && head.status != 101 {
                // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                self.consume(head.length);
                continue;
            }
            let framing = if head_only || head.status == 204 || head.status == 304 {
                Framing::None
            } else {
                head.framing
            };
            self.consume(head.length);
            let mut body = want.body.then(Vec::new);
            let body_bytes = self
                .read_body(framing, body.as_mut())
                .await
                .map_err(Failure::Answer)?;
            if head.close || framing == Framing::UntilClose {
                self.closed = true;
            }
            self.completed += 1;
            return Ok(Answer {
                status: head.status,
                body_bytes,
                body,
                headers: head.kept,
            });
        }
    }

    async fn read_head(&mut self, want: &Want) -> Result<Head, Failure> {
        let mut started = self.filled > 0;
        loop {
            if self.filled > 0 {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(&self.buf[..self.filled]) {
                    Ok(httparse::Status::Complete(length)) => {
                        return Head::from_response(&response, length, want)
                            .ok_or(Failure::Answer(ErrorKind::Protocol));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return Err(Failure::Answer(ErrorKind::Protocol)),
                }
                if self.filled == self.buf.len() {
                    if self.buf.len() >= MAX_HEAD {
                        return Err(Failure::Answer(ErrorKind::Protocol));
                    }
                    self.buf.resize(self.buf.len() * 2, 0);
                }
            }
            let n = self.fill().await.map_err(|e| {
                if started {
                    Failure::Answer(io_kind(&e))
                } else {
                    Failure::before_answer(e)
                }
            })?;
            if n == 0 {
                let kind = ErrorKind::Reset;
                return Err(if started {
                    Failure::Answer(kind)
                } else {
                    Failure::NoAnswer(kind)
                });
            }
            started = true;
        }
    }

    /// Reads more bytes into the free end of the buffer.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.io.read(&mut self.buf[self.filled..]).await?;
        self.filled += n;
        Ok(n)
    }

    /// Drops the first `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    async fn read_body(
        &mut self,
        framing: Framing,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<u64, ErrorKind> {
        match framing {
            Framing::None => Ok(0),
            Framing::Length(length) => {
                self.skip(length, keep).await?;
                Ok(length)
            }
            Framing::UntilClose => {
                let mut total = 0u64;
                loop {
                    total += self.filled as u64;
                    self.keep(self.filled, keep.as_deref_mut());
                    self.filled = 0;
                    if self.fill().await.map_err(|e| io_kind(&e))? == 0 {
                        return Ok(total);
                    }
                }
            }
            Framing::Chunked => self.read_chunked(keep).await,
        }
    }

    /// Copies the first `n` buffered bytes into `keep`, up to the kept-body limit.
    fn keep(&self, n: usize, keep: Option<&mut Vec<u8>>) {
        if let Some(keep) = keep {
            let room = MAX_KEPT_BODY.saturating_sub(keep.len()).min(n);
            keep.extend_from_slice(&self.buf[..room]);
        }
    }

    /// Skips exactly `length` body bytes, from the buffer first, then from the stream.
    async fn skip(
        &mut self,
        mut length: u64,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<(), ErrorKind> {
        loop {
            let take = (self.filled as u64).min(length) as usize;
            self.keep(take, keep.as_deref_mut());
            self.consume(take);
            length -= take as u64;
            if length == 0 {
                return Ok(());
            }
            if self.fill().await.map_err(|e| io_kind(&e))? == 0 {
                return Err(ErrorKind::Reset);
            }
        }
    }

    async fn read_chunked(&mut self, mut keep: Option<&mut Vec<u8>>) -> Result<u64, ErrorKind> {
        let mut total = 0u64;
        loop {
            let (consumed, size) = loop {
                match httparse::parse_chunk_size(&self.buf[..self.filled]) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) => {
                        if self.fill().await.map_err(|e| io_kind(&e))? == 0 {
                            return Err(ErrorKind::Reset);
                        }
                    }
                    Err(_) => return Err(ErrorKind::Protocol),
                }
            };
            self.consume(consumed);
            if size == 0 {
                self.skip_trailers().await?;
                return Ok(total);
            }
            self.skip(size, keep.as_deref_mut()).await?;
            total += size;
            self.expect_crlf().await?;
        }
    }

    async fn expect_crlf(&mut self) -> Result<(), ErrorKind> {
        while self.filled < 2 {
            if self.fill().await.map_err(|e| io_kind(&e))? == 0 {
                return Err(ErrorKind::Reset);
            }
        }
        if &self.buf[..2] != b"\r\n" {
            return Err(ErrorKind::Protocol);
        }
        self.consume(2);
        Ok(())
    }

    /// After the last chunk: optional trailer lines, then an empty line.
    async fn skip_trailers(&mut self) -> Result<(), ErrorKind> {
        loop {
            match self.buf[..self.filled]
                .windows(2)
                .position(|w| w == b"\r\n")
            {
                Some(0) => {
                    self.consume(2);
                    return Ok(());
                }
                Some(end) => self.consume(end + 2),
                None => {
                    if self.filled >= MAX_HEAD {
                        return Err(ErrorKind::Protocol);
                    }
                    if self.fill().await.map_err(|e| io_kind(&e))? == 0 {
                        return Err(ErrorKind::Reset);
                    }
                }
            }
        }
    }
}

/// A failed exchange, and whether any of the answer had arrived (a request that got no answer
/// at all on a reused connection may be retried on a fresh one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    NoAnswer(ErrorKind),
    Answer(ErrorKind),
}

impl Failure {
    fn before_answer(e: io::Error) -> Self {
        Failure::NoAnswer(io_kind(&e))
    }

    pub(crate) fn kind(self) -> ErrorKind {
        match self {
            Failure::NoAnswer(kind) | Failure::Answer(kind) => kind,
        }
    }
}

pub(crate) fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        io::ErrorKind::InvalidData => ErrorKind::Tls,
        _ => ErrorKind::Reset,
    }
}

#[derive(Debug)]
struct Head {
    status: u16,
    length: usize,
    framing: Framing,
    close: bool,
    kept: Vec<(String, String)>,
}

impl Head {
    fn from_response(
        response: &httparse::Response<'_, '_>,
        length: usize,
        want: &Want,
    ) -> Option<Self> {
        let status = response.code?;
        let mut framing = Framing::UntilClose;
        let mut close = response.version == Some(0);
        let mut kept = Vec::new();
        for header in response.headers.iter() {
            if !want.headers.is_empty()
                && want
                    .headers
                    .iter()
                    .any(|w| header.name.eq_ignore_ascii_case(w))
            {
                kept.push((
                    header.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(header.value).into_owned(),
                ));
            }
            if header.name.eq_ignore_ascii_case("content-length") {
                if framing != Framing::Chunked {
                    let text = std::str::from_utf8(header.value).ok()?;
                    framing = Framing::Length(text.trim().parse().ok()?);
                }
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                let value = std::str::from_utf8(header.value).ok()?;
                if value.to_ascii_lowercase().contains("chunked") {
                    framing = Framing::Chunked;
                }
            } else if header.name.eq_ignore_ascii_case("connection") {
                let value = std::str::from_utf8(header.value).ok()?.to_ascii_lowercase();
                if value.contains("close") {
                    close = true;
                } else if value.contains("keep-alive") {
                    close = false;
                }
            }
        }
        Some(Self {
            status,
            length,
            framing,
            close,
            kept,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer_to(
        response: &'static [u8],
        head_only: bool,
    ) -> (Result<Answer, Failure>, Http1<tokio::io::DuplexStream>) {
        let (client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            let mut request = [0u8; 8];
            let _ = server.read(&mut request).await;
            // Trickle the answer in small pieces to exercise every partial path.
            for piece in response.chunks(7) {
                server.write_all(piece).await.unwrap();
            }
            // Dropping the server end closes the stream: a truncated answer ends in EOF.
        });
        let mut conn = Http1::new(client);
        let answer = conn
            .exchange(b"GET / HTTP/1.1\r\n\r\n", head_only, &Want::default())
            .await;
        writer.await.unwrap();
        (answer, conn)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn content_length() {
        block_on(async {
            let (a, conn) =
                answer_to(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false).await;
            assert_eq!(
                a.unwrap(),
                Answer {
                    status: 200,
                    body_bytes: 5,
                    ..Answer::default()
                }
            );
            assert!(!conn.is_closed());
            assert_eq!(conn.filled, 0);
        });
    }

    #[test]
    fn chunked_with_trailers() {
        block_on(async {
            let (a, conn) = answer_to(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n",
                false,
            )
            .await;
            assert_eq!(
                a.unwrap(),
                Answer {
                    status: 200,
                    body_bytes: 31,
                    ..Answer::default()
                }
            );
            assert_eq!(conn.filled, 0);
        });
    }

    #[test]
    fn interim_answers_are_skipped_and_close_is_honoured() {
        block_on(async {
            let (a, conn) = answer_to(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno",
                false,
            )
            .await;
            assert_eq!(
                a.unwrap(),
                Answer {
                    status: 503,
                    body_bytes: 2,
                    ..Answer::default()
                }
            );
            assert!(conn.is_closed());
        });
    }

    #[test]
    fn head_and_204_have_no_body() {
        block_on(async {
            let (a, _) = answer_to(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", true).await;
            assert_eq!(
                a.unwrap(),
                Answer {
                    status: 200,
                    body_bytes: 0,
                    ..Answer::default()
                }
            );
            let (a, _) = answer_to(b"HTTP/1.1 204 No Content\r\n\r\n", false).await;
            assert_eq!(
                a.unwrap(),
                Answer {
                    status: 204,
                    body_bytes: 0,
                    ..Answer::default()
                }
            );
        });
    }

    #[test]
    fn body_until_close() {
        block_on(async {
            let (client, mut server) = tokio::io::duplex(64);
            let writer = tokio::spawn(async move {
                let mut request = [0u8; 8];
                let _ = server.read(&mut request).await;
                server
                    .write_all(b"HTTP/1.0 200 OK\r\n\r\n0123456789")
                    .await
                    .unwrap();
                drop(server);
            });
            let mut conn = Http1::new(client);
            let a = conn
                .exchange(b"GET / HTTP/1.1\r\n\r\n", false, &Want::default())
                .await
                .unwrap();
            writer.await.unwrap();
            assert_eq!(
                a,
                Answer {
                    status: 200,
                    body_bytes: 10,
                    ..Answer::default()
                }
            );
            assert!(conn.is_closed());
        });
    }

    #[test]
    fn garbage_and_truncation_are_classified() {
        block_on(async {
            let (a, _) = answer_to(b"SMTP ready\r\n\r\n", false).await;
            assert_eq!(a.unwrap_err().kind(), ErrorKind::Protocol);
            let (a, _) =
                answer_to(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", false).await;
            assert_eq!(a.unwrap_err(), Failure::Answer(ErrorKind::Reset));
            let (a, _) = answer_to(b"", false).await;
            assert_eq!(a.unwrap_err(), Failure::NoAnswer(ErrorKind::Reset));
        });
    }

    #[test]
    fn wanted_body_and_headers_are_kept() {
        block_on(async {
            let (client, mut server) = tokio::io::duplex(64);
            let writer = tokio::spawn(async move {
                let mut request = [0u8; 8];
                let _ = server.read(&mut request).await;
                server
                    .write_all(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Id: 7\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\":\r\n2\r\n1}\r\n0\r\n\r\n")
                    .await
                    .unwrap();
            });
            let mut conn = Http1::new(client);
            let want = Want {
                body: true,
                headers: vec!["set-cookie".into(), "x-id".into()],
            };
            let a = conn
                .exchange(b"GET / HTTP/1.1\r\n\r\n", false, &want)
                .await
                .unwrap();
            writer.await.unwrap();
            assert_eq!(a.body.as_deref(), Some(&b"{\"a\":1}"[..]));
            assert_eq!(a.body_bytes, 7);
            assert_eq!(
                a.headers,
                [("set-cookie", "a=1"), ("x-id", "7"), ("set-cookie", "b=2")]
                    .map(|(n, v)| (n.to_string(), v.to_string()))
            );
        });
    }

    #[test]
    fn large_heads_grow_the_buffer() {
        block_on(async {
            let mut response = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            response.extend(std::iter::repeat_n(b'a', 5000));
            response.extend_from_slice(b"\r\nContent-Length: 1\r\n\r\nz");
            let response: &'static [u8] = Box::leak(response.into_boxed_slice());
            let (a, _) = answer_to(response, false).await;
            assert_eq!(
                a.unwrap(),
                Answer {
                    status: 200,
                    body_bytes: 1,
                    ..Answer::default()
                }
            );
        });
    }
}
