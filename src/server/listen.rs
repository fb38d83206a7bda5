//! Where the server listens (`--web.listen-address`, repeatable) and how an
//! address is bound: `:port` means every interface, IPv6 and IPv4, as the
//! Prometheus exporters read it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

/// One `--web.listen-address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenAddress {
    /// `:port`: every interface, IPv6 and IPv4 (one dual-stack socket; IPv4
    /// alone where the host has no IPv6).
    AllInterfaces(u16),
    /// `host:port`, resolved once at start-up.
    Socket(SocketAddr),
}

/// A connection backlog as large as the kernel allows by default.
const BACKLOG: i32 = 1024;

impl ListenAddress {
    /// Parses `:port`, `ip:port`, `[ipv6]:port` or `host:port` (resolved now,
    /// to its first address).
    pub fn parse(raw: &str) -> Result<ListenAddress, String> {
        if let Some(port) = raw.strip_prefix(':') {
            return port
                .parse()
                .map(ListenAddress::AllInterfaces)
                .map_err(|_| format!("{raw:?}: invalid port {port:?}"));
        }
        if let Ok(addr) = raw.parse::<SocketAddr>() {
            return Ok(ListenAddress::Socket(addr));
        }
        let (host, port) = raw
            .rsplit_once(':')
            .ok_or_else(|| format!("{raw:?}: expected host:port or :port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{raw:?}: invalid port {port:?}"))?;
        (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("{raw:?}: cannot resolve {host:?}: {e}"))?
            .next()
            .map(ListenAddress::Socket)
            .ok_or_else(|| format!("{raw:?}: {host:?} resolves to no address"))
    }

    /// Binds the address (inside a tokio runtime).
    pub fn bind(&self) -> std::io::Result<TcpListener> {
        match *self {
            ListenAddress::Socket(addr) => bind_socket(addr, false),
            ListenAddress::AllInterfaces(port) => {
                let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
                match bind_socket(v6, true) {
                    Err(e) if no_ipv6(&e) => {
                        tracing::info!(port, error = %e, "no IPv6 on this host: listening on IPv4 only");
                        bind_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), false)
                    }
                    bound => bound,
                }
            }
        }
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddress::AllInterfaces(port) => write!(f, ":{port}"),
            ListenAddress::Socket(addr) => write!(f, "{addr}"),
        }
    }
}

/// Whether binding an IPv6 socket failed for want of IPv6.
fn no_ipv6(e: &std::io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if e.raw_os_error() == Some(libc::EAFNOSUPPORT) {
        return true;
    }
    e.kind() == std::io::ErrorKind::AddrNotAvailable
}

/// A listening socket on `addr`; `dual_stack` accepts IPv4 too on an IPv6
/// wildcard, whatever the host's `bindv6only` default.
fn bind_socket(addr: SocketAddr, dual_stack: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    // As std and tokio do: a restart can bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_as_given() {
        for (raw, want) in [
            (":10071", ListenAddress::AllInterfaces(10071)),
            (
                "127.0.0.1:9",
                ListenAddress::Socket("127.0.0.1:9".parse().unwrap()),
            ),
            ("[::1]:0", ListenAddress::Socket("[::1]:0".parse().unwrap())),
        ] {
            let got = ListenAddress::parse(raw).unwrap();
            assert_eq!(got, want);
            assert_eq!(got.to_string(), raw);
        }
        assert!(matches!(
            ListenAddress::parse("localhost:7"),
            Ok(ListenAddress::Socket(a)) if a.port() == 7 && a.ip().is_loopback()
        ));
        for bad in [":x", "10071", "host:99999", ":"] {
            assert!(ListenAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn all_interfaces_answers_on_ipv4_and_ipv6_loopback() {
        let listener = ListenAddress::AllInterfaces(0).bind().unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut targets = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))];
        if listener.local_addr().unwrap().is_ipv6() {
            targets.push(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
        }
        for target in targets {
            let connect = tokio::net::TcpStream::connect(target);
            let (connected, accepted) = tokio::join!(connect, listener.accept());
            connected.unwrap_or_else(|e| panic!("connect to {target}: {e}"));
            accepted.unwrap();
        }
    }
}
