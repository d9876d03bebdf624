//! The server address: resolved once, and only ever a loopback one, so the
//! benchmark cannot be pointed at someone else's machine.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};

/// Resolves `addr` and refuses anything that is not loopback.
pub fn resolve_loopback(addr: &str) -> anyhow::Result<SocketAddr> {
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve --server {addr:?}"))?
        .collect();
    let Some(first) = resolved.first() else {
        bail!("--server {addr:?} resolves to no address");
    };
    if let Some(remote) = resolved.iter().find(|a| !a.ip().is_loopback()) {
        bail!(
            "--server {addr:?} resolves to {remote}, which is not a loopback address; \
             chinwag-bench only runs against a server on this machine (127.0.0.0/8 or ::1)"
        );
    }
    Ok(*first)
}

/// The local address connection `index` binds to, spreading connections
/// over `sources` addresses 127.0.0.1, 127.0.0.2, ... so that no single
/// source address runs out of ephemeral ports. `None` for an IPv6 server
/// (::1 is a single address).
pub fn source_addr(server: SocketAddr, index: usize, sources: usize) -> Option<SocketAddr> {
    match server.ip() {
        IpAddr::V4(_) => {
            let host = 1 + (index % sources.clamp(1, 254)) as u8;
            Some(SocketAddr::new(Ipv4Addr::new(127, 0, 0, host).into(), 0))
        }
        IpAddr::V6(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_accepted() {
        assert!(resolve_loopback("127.0.0.1:7070").is_ok());
        assert!(resolve_loopback("[::1]:7070").is_ok());
        assert!(resolve_loopback("127.3.2.1:1").is_ok());
        let err = resolve_loopback("10.0.0.1:7070").unwrap_err().to_string();
        assert!(err.contains("not a loopback"), "{err}");
        assert!(resolve_loopback("192.168.1.1:1").is_err());
        assert!(resolve_loopback("no port").is_err());
    }

    #[test]
    fn sources_rotate() {
        let server: SocketAddr = "127.0.0.1:7070".parse().unwrap();
        let ip = |i| source_addr(server, i, 4).unwrap().ip().to_string();
        assert_eq!(ip(0), "127.0.0.1");
        assert_eq!(ip(3), "127.0.0.4");
        assert_eq!(ip(4), "127.0.0.1");
        assert_eq!(source_addr("[::1]:1".parse().unwrap(), 0, 4), None);
    }
}
