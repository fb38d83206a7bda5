//! The network around the exporter in the proxy tests: a TLS terminator in
//! front of wiremock (a test CA's certificate for `evolux.test` and
//! `127.0.0.1`), and a CONNECT proxy that records what it sees.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;

/// The name only the proxy resolves (to 127.0.0.1).
pub const HOST: &str = "evolux.test";

/// A TLS listener on loopback that relays each connection, decrypted, to
/// `upstream` (wiremock). Its certificate, for [`HOST`] and `127.0.0.1`,
/// comes from a CA written to `ca_file`.
pub struct TlsFront {
    pub addr: SocketAddr,
    pub ca_file: PathBuf,
    /// Its TLS side, for a proxy that speaks TLS with the same certificate.
    pub acceptor: tokio_rustls::TlsAcceptor,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    pub async fn start(upstream: SocketAddr) -> TlsFront {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("ca key");
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = CertificateParams::new(vec![HOST.to_string(), "127.0.0.1".to_string()])
            .expect("leaf params")
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf cert");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write the CA");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key"),
        )
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let front_acceptor = acceptor.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = front_acceptor.clone();
                tokio::spawn(async move {
                    let (Ok(mut tls), Ok(mut plain)) = (
                        acceptor.accept(tcp).await,
                        TcpStream::connect(upstream).await,
                    ) else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        TlsFront {
            addr,
            ca_file,
            acceptor,
            _dir: dir,
        }
    }
}

/// One CONNECT the proxy served.
#[derive(Clone, Default)]
pub struct Tunnel {
    /// The request line's target, `host:port`.
    pub target: String,
    /// The request's header lines, as sent.
    pub headers: Vec<(String, String)>,
    /// Every byte the client sent through the tunnel.
    pub sent: Arc<Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("target", &self.target)
            .field("headers", &self.headers)
            .field("sent_bytes", &self.sent.lock().unwrap().len())
            .finish()
    }
}

impl Tunnel {
    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A CONNECT proxy on loopback: it resolves [`HOST`] to 127.0.0.1 itself,
/// answers `200 Connection established` and relays; it records each
/// connection and what was sent through it. Anything but CONNECT gets 405.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    scheme: &'static str,
    /// Connections accepted, CONNECT or not.
    pub connections: Arc<Mutex<usize>>,
    pub tunnels: Arc<Mutex<Vec<Tunnel>>>,
}

impl ConnectProxy {
    /// A plain-TCP proxy (`http://`).
    pub async fn start() -> ConnectProxy {
        ConnectProxy::start_with(None).await
    }

    /// With `tls`, a proxy the client speaks TLS to (`https://`).
    pub async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxy = ConnectProxy {
            addr: listener.local_addr().expect("addr"),
            scheme: if tls.is_some() { "https" } else { "http" },
            connections: Arc::default(),
            tunnels: Arc::default(),
        };
        let (connections, tunnels) = (proxy.connections.clone(), proxy.tunnels.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                *connections.lock().unwrap() += 1;
                let tunnels = tunnels.clone();
                match tls.clone() {
                    None => drop(tokio::spawn(serve(client, tunnels))),
                    Some(acceptor) => drop(tokio::spawn(async move {
                        if let Ok(client) = acceptor.accept(client).await {
                            serve(client, tunnels).await;
                        }
                    })),
                }
            }
        });
        proxy
    }

    /// `http://127.0.0.1:port` (`https://` for TLS), with `userinfo@` if given.
    pub fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(u) => format!("{}://{u}@{}", self.scheme, self.addr),
            None => format!("{}://{}", self.scheme, self.addr),
        }
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.tunnels.lock().unwrap().clone()
    }
}

/// Reads the request head byte by byte (nothing past it is consumed).
async fn read_head(client: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return None;
        }
        head.push(client.read_u8().await.ok()?);
    }
    String::from_utf8(head).ok()
}

async fn serve(mut client: impl AsyncRead + AsyncWrite + Unpin, tunnels: Arc<Mutex<Vec<Tunnel>>>) {
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let tunnel = Tunnel {
        target: target.to_string(),
        headers,
        sent: Arc::default(),
    };
    tunnels.lock().unwrap().push(tunnel.clone());
    if method != "CONNECT" {
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    // Its own resolver: HOST, or an address; nothing is looked up.
    let hosts = HashMap::from([(HOST, IpAddr::from([127, 0, 0, 1]))]);
    let address = target.rsplit_once(':').and_then(|(host, port)| {
        let ip = hosts.get(host).copied().or_else(|| host.parse().ok())?;
        Some(SocketAddr::new(ip, port.parse().ok()?))
    });
    let server = match address {
        Some(address) => TcpStream::connect(address).await.ok(),
        None => None,
    };
    let Some(server) = server else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    relay(client, server, tunnel.sent).await;
}

/// Both ways until either side closes; the client's bytes also go to `sent`.
async fn relay(
    client: impl AsyncRead + AsyncWrite + Unpin,
    server: TcpStream,
    sent: Arc<Mutex<Vec<u8>>>,
) {
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    sent.lock().unwrap().extend_from_slice(&buf[..n]);
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
