//! Connections: TCP or TLS, a version handshake, a token check, then framed messages.
//!
//! Handshake, in order: (TLS, when the address is `tls://`), both sides send the 8-byte
//! preamble `BRSK` + protocol version, the connecting side sends a [`Hello`] (role, token,
//! name) with small frame limits, the accepting side answers [`HelloReply`]. Anything else —
//! garbage bytes, a wrong version, a bad token, silence for longer than the timeout — ends
//! that one connection with a clear error on both sides; a server keeps serving everyone else.

use std::time::Duration;

use bytes::BytesMut;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter, ReadHalf, WriteHalf,
};
use tokio::net::{TcpListener, TcpStream};

use crate::addr::{Address, Scheme};
use crate::error::ProtocolError;
use crate::frame::{FrameDecoder, Limits, RawMessage, decode_message, encode_message, prefix};
use crate::messages::{Hello, HelloReply, Role};
use crate::security::Security;
use crate::{MAGIC, PROTOCOL_VERSION};

/// How long a handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream: TCP or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

type BoxStream = Box<dyn Stream>;

/// The receiving half of a connection.
pub struct MessageReader {
    inner: ReadHalf<BoxStream>,
    buf: BytesMut,
    decoder: FrameDecoder,
    peer: String,
    /// Bytes of the process's in-flight budget held for the frame being received.
    held: u64,
}

impl Drop for MessageReader {
    fn drop(&mut self) {
        crate::inflight::release(std::mem::take(&mut self.held));
    }
}

/// The sending half of a connection.
pub struct MessageWriter {
    inner: BufWriter<WriteHalf<BoxStream>>,
    peer: String,
}

/// An established, authenticated connection.
pub struct Connection {
    /// Receive messages.
    pub reader: MessageReader,
    /// Send messages.
    pub writer: MessageWriter,
    /// The other side's socket address.
    pub peer: String,
    /// What the other side said when it connected (accepting side only).
    pub hello: Option<Hello>,
}

impl MessageReader {
    /// The next whole message; [`ProtocolError::Closed`] when the peer hung up cleanly.
    pub async fn recv(&mut self) -> Result<RawMessage, ProtocolError> {
        loop {
            if let Some(m) = self.decoder.decode(&mut self.buf)? {
                crate::inflight::release(std::mem::take(&mut self.held));
                return Ok(m);
            }
            let need = self.decoder.needed();
            if need > crate::inflight::SMALL && need > self.held {
                // Room for a large frame comes from the process's budget first.
                crate::inflight::acquire(need - self.held).await;
                self.held = need;
            }
            let missing = (need as usize).saturating_sub(self.buf.len());
            if missing > 0 && self.buf.capacity() - self.buf.len() < missing {
                // One allocation for the whole frame: large payloads are never copied.
                self.buf.reserve(missing);
            } else if self.buf.capacity() - self.buf.len() < 8192 {
                self.buf.reserve(64 * 1024);
            }
            let n = self
                .inner
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| ProtocolError::io(format!("reading from {}", self.peer), e))?;
            if n == 0 {
                return Err(ProtocolError::Closed {
                    peer: self.peer.clone(),
                });
            }
        }
    }

    /// The next message, decoded as `T`.
    pub async fn recv_msg<T: DeserializeOwned>(&mut self) -> Result<T, ProtocolError> {
        let raw = self.recv().await?;
        decode_message(&raw)
    }

    /// The other side.
    pub fn peer(&self) -> &str {
        &self.peer
    }
}

impl MessageWriter {
    /// Send one message: the length prefix and header, then each payload frame as it is
    /// (large frames bypass the write buffer, so they are never copied).
    pub async fn send(&mut self, raw: &RawMessage) -> Result<(), ProtocolError> {
        let ctx = |e| ProtocolError::io(format!("writing to {}", self.peer), e);
        self.inner.write_all(&prefix(raw)).await.map_err(ctx)?;
        self.inner.write_all(&raw.header).await.map_err(ctx)?;
        for p in &raw.payloads {
            self.inner.write_all(p).await.map_err(ctx)?;
        }
        self.inner.flush().await.map_err(ctx)
    }

    /// Encode and send `msg`.
    pub async fn send_msg<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), ProtocolError> {
        let raw = encode_message(msg)?;
        self.send(&raw).await
    }

    /// Close the sending side.
    pub async fn shutdown(&mut self) {
        let _ = self.inner.shutdown().await;
    }
}

fn split(stream: BoxStream, peer: String, limits: Limits) -> (MessageReader, MessageWriter) {
    let (r, w) = tokio::io::split(stream);
    (
        MessageReader {
            inner: r,
            buf: BytesMut::with_capacity(64 * 1024),
            decoder: FrameDecoder::new(limits),
            peer: peer.clone(),
            held: 0,
        },
        MessageWriter {
            inner: BufWriter::with_capacity(64 * 1024, w),
            peer,
        },
    )
}

fn preamble() -> [u8; 8] {
    let mut p = [0u8; 8];
    p[..4].copy_from_slice(&MAGIC);
    p[4..].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    p
}

async fn read_preamble(stream: &mut BoxStream, peer: &str) -> Result<(), ProtocolError> {
    let mut p = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        let n = stream
            .read(&mut p[got..])
            .await
            .map_err(|e| ProtocolError::io(format!("reading from {peer}"), e))?;
        if n == 0 {
            if got == 0 {
                return Err(ProtocolError::Closed { peer: peer.into() });
            }
            return Err(ProtocolError::NotBrisk {
                peer: peer.into(),
                got: p[..got].to_vec(),
            });
        }
        let upto = (got + n).min(4);
        if p[..upto] != MAGIC[..upto] {
            return Err(ProtocolError::NotBrisk {
                peer: peer.into(),
                got: p[..got + n].to_vec(),
            });
        }
        got += n;
    }
    let theirs = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
    if theirs != PROTOCOL_VERSION {
        return Err(ProtocolError::VersionMismatch {
            peer: peer.into(),
            ours: PROTOCOL_VERSION,
            theirs,
        });
    }
    Ok(())
}

fn nodelay(s: &TcpStream) {
    let _ = s.set_nodelay(true);
}

/// Connect to `address` as `role`, with the handshake.
pub async fn connect(
    address: &Address,
    security: &Security,
    role: Role,
    name: &str,
) -> Result<Connection, ProtocolError> {
    connect_resuming(address, security, role, name, None).await
}

/// [`connect`] for a client that had the id `resume` before it lost its scheduler.
pub async fn connect_resuming(
    address: &Address,
    security: &Security,
    role: Role,
    name: &str,
    resume: Option<crate::ClientId>,
) -> Result<Connection, ProtocolError> {
    let peer = address.to_string();
    let fut = async {
        let tcp = TcpStream::connect(address.host_port())
            .await
            .map_err(|e| ProtocolError::io(format!("cannot connect to {peer}"), e))?;
        nodelay(&tcp);
        let mut stream: BoxStream =
            match (address.scheme, &security.tls) {
                (Scheme::Tcp, None) => Box::new(tcp),
                (Scheme::Tls, Some(_)) => {
                    let cfg = security.client_config()?;
                    let name = rustls_pki_types::ServerName::try_from(address.host.clone())
                        .map_err(|e| ProtocolError::Tls {
                            message: format!("bad server name {:?}: {e}", address.host),
                        })?;
                    let tls = tokio_rustls::TlsConnector::from(cfg)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| ProtocolError::Tls {
                            message: format!("handshake with {peer} failed: {e}"),
                        })?;
                    Box::new(tls)
                }
                (Scheme::Tcp, Some(_)) => {
                    return Err(ProtocolError::SecurityMismatch {
                        message: format!(
                            "TLS is configured but {peer} is a tcp:// address; use tls://{}",
                            address.host_port()
                        ),
                    });
                }
                (Scheme::Tls, None) => {
                    return Err(ProtocolError::SecurityMismatch {
                        message: format!(
                            "{peer} needs TLS files (--tls-ca, --tls-cert, --tls-key or \
                         BRISK_TLS_CA, BRISK_TLS_CERT, BRISK_TLS_KEY)"
                        ),
                    });
                }
            };
        stream
            .write_all(&preamble())
            .await
            .map_err(|e| ProtocolError::io(format!("writing to {peer}"), e))?;
        read_preamble(&mut stream, &peer).await?;
        let (mut reader, mut writer) = split(stream, peer.clone(), Limits::handshake());
        writer
            .send_msg(&Hello {
                role,
                token: security.token.clone(),
                name: name.to_string(),
                brisk_version: env!("CARGO_PKG_VERSION").to_string(),
                resume,
            })
            .await?;
        match reader.recv_msg::<HelloReply>().await {
            Ok(HelloReply::Welcome { .. }) => {}
            Ok(HelloReply::Rejected { reason }) => {
                return Err(ProtocolError::Rejected {
                    peer: peer.clone(),
                    reason,
                });
            }
            Err(ProtocolError::Closed { .. }) => {
                return Err(ProtocolError::Rejected {
                    peer: peer.clone(),
                    reason: "it closed the connection during the handshake".into(),
                });
            }
            Err(e) => return Err(e),
        }
        reader.decoder.set_limits(Limits::default());
        Ok(Connection {
            reader,
            writer,
            peer: peer.clone(),
            hello: None,
        })
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
        .await
        .map_err(|_| ProtocolError::HandshakeTimeout {
            peer: address.to_string(),
            seconds: HANDSHAKE_TIMEOUT.as_secs(),
        })?
}

/// A listening socket that hands out authenticated connections.
pub struct Listener {
    tcp: TcpListener,
    security: Security,
    tls: Option<tokio_rustls::TlsAcceptor>,
    address: Address,
}

impl Listener {
    /// Listen on `host:port` (port 0: any free port).
    pub async fn bind(
        host: &str,
        port: u16,
        security: &Security,
    ) -> Result<Listener, ProtocolError> {
        let tcp = TcpListener::bind((host, port))
            .await
            .map_err(|e| ProtocolError::io(format!("cannot listen on {host}:{port}"), e))?;
        let local = tcp
            .local_addr()
            .map_err(|e| ProtocolError::io("local address", e))?;
        let tls = match &security.tls {
            Some(_) => Some(tokio_rustls::TlsAcceptor::from(security.server_config()?)),
            None => None,
        };
        let shown_host = if local.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            local.ip().to_string()
        };
        Ok(Listener {
            tcp,
            security: security.clone(),
            address: Address {
                scheme: if tls.is_some() {
                    Scheme::Tls
                } else {
                    Scheme::Tcp
                },
                host: shown_host,
                port: local.port(),
            },
            tls,
        })
    }

    /// The address to give to others.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Wait for the next TCP connection; run [`Pending::handshake`] on it in its own task.
    pub async fn accept(&self) -> Result<Pending, ProtocolError> {
        let (tcp, addr) = self
            .tcp
            .accept()
            .await
            .map_err(|e| ProtocolError::io("accept", e))?;
        nodelay(&tcp);
        Ok(Pending {
            tcp,
            peer: addr.to_string(),
            security: self.security.clone(),
            tls: self.tls.clone(),
        })
    }
}

/// An accepted socket that has not finished its handshake.
pub struct Pending {
    tcp: TcpStream,
    peer: String,
    security: Security,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Pending {
    /// The other side's socket address.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Run the accepting side of the handshake, allowing only `roles`.
    pub async fn handshake(
        self,
        server: &str,
        roles: &[Role],
    ) -> Result<Connection, ProtocolError> {
        let peer = self.peer.clone();
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.handshake_inner(server, roles))
            .await
            .map_err(|_| ProtocolError::HandshakeTimeout {
                peer,
                seconds: HANDSHAKE_TIMEOUT.as_secs(),
            })?
    }

    async fn handshake_inner(
        self,
        server: &str,
        roles: &[Role],
    ) -> Result<Connection, ProtocolError> {
        let peer = self.peer;
        let mut stream: BoxStream = match self.tls {
            None => Box::new(self.tcp),
            Some(acc) => Box::new(acc.accept(self.tcp).await.map_err(|e| ProtocolError::Tls {
                message: format!("handshake with {peer} failed: {e}"),
            })?),
        };
        let theirs = read_preamble(&mut stream, &peer).await;
        if let Err(ProtocolError::VersionMismatch { .. }) = &theirs {
            // Tell the other side which version we speak, so it can say so too.
            let _ = stream.write_all(&preamble()).await;
            let _ = stream.flush().await;
        }
        theirs?;
        stream
            .write_all(&preamble())
            .await
            .map_err(|e| ProtocolError::io(format!("writing to {peer}"), e))?;
        let (mut reader, mut writer) = split(stream, peer.clone(), Limits::handshake());
        let hello: Hello = reader.recv_msg().await?;
        let reject = if !self.security.token_ok(hello.token.as_deref()) {
            Some(if hello.token.is_none() {
                "this cluster needs a token (BRISK_TOKEN, --token-file or --token)".to_string()
            } else {
                "wrong token".to_string()
            })
        } else if !roles.contains(&hello.role) {
            Some(format!(
                "{:?} connections are not accepted here",
                hello.role
            ))
        } else {
            None
        };
        if let Some(reason) = reject {
            let _ = writer
                .send_msg(&HelloReply::Rejected {
                    reason: reason.clone(),
                })
                .await;
            writer.shutdown().await;
            return Err(ProtocolError::Rejected { peer, reason });
        }
        writer
            .send_msg(&HelloReply::Welcome {
                server: server.to_string(),
            })
            .await?;
        reader.decoder.set_limits(Limits::default());
        Ok(Connection {
            reader,
            writer,
            peer,
            hello: Some(hello),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Payload;

    /// A reader over one end of an in-memory pipe (room for a whole test frame, so writes never
    /// wait for the reader); the other end is returned for writing.
    fn pipe() -> (MessageReader, tokio::io::DuplexStream) {
        let (a, b) = tokio::io::duplex(8 << 20);
        let (reader, _writer) = split(Box::new(a), "test".into(), Limits::default());
        (reader, b)
    }

    fn frame(bytes: usize) -> Vec<u8> {
        let raw = encode_message(&Payload::from(vec![7u8; bytes])).unwrap();
        let mut out = prefix(&raw);
        out.extend_from_slice(&raw.header);
        for p in &raw.payloads {
            out.extend_from_slice(p);
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_frames_wait_for_room_in_the_process_budget() {
        // (One test: the budget is process-wide.)
        large_frames_inner().await;
    }

    async fn large_frames_inner() {
        crate::inflight::set_in_flight_limit(5 << 20);
        let (mut a, mut wa) = pipe();
        let (mut b, mut wb) = pipe();
        let fa = frame(3 << 20);
        let fb = frame(3 << 20);
        // A announces 3 MiB and sends half: it holds 3 MiB of the 5.
        let half = fa.len() / 2;
        wa.write_all(&fa[..half]).await.unwrap();
        let got_a = tokio::spawn(async move { a.recv().await.map(|m| m.len()) });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(crate::inflight::in_flight() >= 3 << 20);
        // B's whole frame arrives, but its 3 MiB do not fit next to A's: it waits.
        wb.write_all(&fb).await.unwrap();
        let mut got_b = tokio::spawn(async move { b.recv().await.map(|m| m.len()) });
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut got_b)
                .await
                .is_err(),
            "B was read although the budget was taken"
        );
        // A completes and gives its bytes back; B goes on.
        wa.write_all(&fa[half..]).await.unwrap();
        assert!(got_a.await.unwrap().unwrap() >= 3 << 20);
        let n = tokio::time::timeout(Duration::from_secs(10), got_b)
            .await
            .expect("B goes on once A is done")
            .unwrap()
            .unwrap();
        assert!(n >= 3 << 20);
        drop(wb);
        assert_eq!(crate::inflight::in_flight(), 0);

        // A frame larger than the whole budget goes alone, and a dropped reader gives back.
        crate::inflight::set_in_flight_limit(2 << 20);
        let (mut a, mut wa) = pipe();
        let fa = frame(3 << 20);
        wa.write_all(&fa[..1024]).await.unwrap();
        // Announced 3 MiB > the 2 MiB budget: taken anyway (nothing else is in flight).
        let r = tokio::time::timeout(Duration::from_millis(200), a.recv()).await;
        assert!(r.is_err(), "still waiting for the rest of the bytes");
        drop(a);
        assert_eq!(
            crate::inflight::in_flight(),
            0,
            "dropping the reader gave it back"
        );
        crate::inflight::set_in_flight_limit(2 << 30);
    }
}
