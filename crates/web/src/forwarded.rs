//! The client's address behind a reverse proxy: `X-Forwarded-For`, believed
//! only from configured proxies (`web_trusted_proxies`), as the PROXY
//! protocol header is only read on listeners that say a trusted proxy is in
//! front. Anyone can write the header; only a proxy we trust appends to it
//! honestly, so the list is read from the right, skipping our own proxies,
//! and the first address that is not one of them is the client.

use std::net::{IpAddr, SocketAddr};

/// Addresses and networks (`10.0.0.0/8`) of the trusted proxies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Reads the configured list; the error names the entry that is wrong.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|entry| {
                let (ip, prefix) = entry.split_once('/').unwrap_or((entry, ""));
                let ip: IpAddr = ip.trim().parse().map_err(|_| {
                    format!("web_trusted_proxies: {entry:?} is not an address or network")
                })?;
                let ip = ip.to_canonical();
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix.trim() {
                    "" => max,
                    bits => bits.parse().ok().filter(|&b| b <= max).ok_or_else(|| {
                        format!("web_trusted_proxies: {entry:?} has a bad prefix length")
                    })?,
                };
                Ok((ip, prefix))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0
            .iter()
            .any(|&(net, prefix)| in_network(ip, net, prefix))
    }

    /// The client's address for a connection from `peer` carrying these
    /// `X-Forwarded-For` header values (in the order received).
    pub fn client(&self, peer: SocketAddr, forwarded_for: &[&str]) -> SocketAddr {
        if !self.contains(peer.ip()) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer.ip();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                break; // not an address: nothing further left is believed
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        SocketAddr::new(client, 0)
    }
}

/// One entry of the list: an address, with a port or in brackets maybe.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|addr| addr.ip()))
        .or_else(|_| hop.trim_start_matches('[').trim_end_matches(']').parse())
        .ok()
        .map(|ip| ip.to_canonical())
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_is_believed_only_from_a_trusted_proxy() {
        let trusted = proxies(&["10.0.0.0/8", "::1"]);
        assert_eq!(
            trusted.client(addr("10.1.2.3:5000"), &["203.0.113.7"]),
            addr("203.0.113.7:0")
        );
        assert_eq!(
            trusted.client(addr("198.51.100.1:5000"), &["203.0.113.7"]),
            addr("198.51.100.1:5000"),
            "not a proxy of ours: its header means nothing"
        );
        assert_eq!(
            trusted.client(addr("[::1]:5000"), &["203.0.113.7:4711"]),
            addr("203.0.113.7:0")
        );
    }

    #[test]
    fn a_forged_start_of_the_list_is_skipped() {
        let trusted = proxies(&["10.0.0.1", "10.0.0.2"]);
        // The client wrote "1.1.1.1" itself; our proxies appended the rest.
        assert_eq!(
            trusted.client(addr("10.0.0.2:1"), &["1.1.1.1, 203.0.113.7", "10.0.0.1"]),
            addr("203.0.113.7:0")
        );
        // Nothing but proxies: the first of them.
        assert_eq!(
            trusted.client(addr("10.0.0.2:1"), &["10.0.0.1"]),
            addr("10.0.0.1:0")
        );
        // Garbage stops the walk at what was believed so far.
        assert_eq!(
            trusted.client(addr("10.0.0.2:1"), &["203.0.113.9, nonsense"]),
            addr("10.0.0.2:0")
        );
        assert_eq!(trusted.client(addr("10.0.0.2:1"), &[]), addr("10.0.0.2:0"));
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
        assert!(proxies(&["::ffff:10.0.0.1"]).contains("10.0.0.1".parse().unwrap()));
        assert!(proxies(&["0.0.0.0/0"]).contains("8.8.8.8".parse().unwrap()));
    }
}
