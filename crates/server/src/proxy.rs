//! The PROXY protocol (HAProxy's "The PROXY protocol", versions 1 and 2):
//! how a load balancer or gateway in front of the server tells it the real
//! client's address, in a header sent before anything else on the
//! connection.
//!
//! Two halves:
//! - sans-IO: [`parse`] reads a header from the bytes received so far
//!   (need more, done, or invalid), and [`sniff`] tells from the first
//!   bytes whether a connection opens with a header at all (or, while it
//!   looks, with a TLS handshake, which a plain listener reports);
//! - [`arrive`]: the step every client listener takes right after accept,
//!   whatever protocol it speaks. On a listener marked trusted it reads the
//!   header, and nothing after it, and returns the real client's address;
//!   elsewhere it refuses a connection that opens with a header, since
//!   anyone could send one to pose as any address.
//!
//! Only a listener that nothing but the proxy can reach may be trusted:
//! the header is believed as it is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The longest version 1 header, "\r\n" included (the specification's
/// limit).
pub const MAX_V1_LEN: usize = 107;

/// The longest version 2 header accepted, its 16 fixed bytes included. The
/// format allows 16 + 65 535; what proxies send is the addresses (36 bytes
/// at most) and a few TLVs (TLS details, a cloud's endpoint id), far below
/// this.
pub const MAX_V2_LEN: usize = 16 + 2048;

/// The longest header of either version.
pub const MAX_HEADER_LEN: usize = if MAX_V1_LEN > MAX_V2_LEN {
    MAX_V1_LEN
} else {
    MAX_V2_LEN
};

/// How a version 1 header starts.
const V1_PREFIX: &[u8] = b"PROXY ";

/// The 12 bytes a version 2 header starts with.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// A complete header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The real client's address; `None` when the proxy does not give one
    /// (a LOCAL connection such as a health check, an UNKNOWN or non-IP
    /// source): then the connection's own peer address stands.
    pub source: Option<SocketAddr>,
    /// How many bytes the header takes; the client's own bytes follow.
    pub len: usize,
}

/// What [`parse`] makes of the bytes received so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A header may still follow: these bytes are its beginning.
    NeedMore,
    Done(Header),
    /// Not a valid header, and more bytes will not make it one.
    Invalid(String),
}

/// Reads a PROXY protocol header (version 1 or 2) at the start of `buf`.
/// Bytes after the header are left alone. The length is checked first:
/// [`Parsed::NeedMore`] is only returned while `buf` is shorter than
/// [`MAX_HEADER_LEN`].
pub fn parse(buf: &[u8]) -> Parsed {
    if starts_like(buf, V1_PREFIX) {
        parse_v1(buf)
    } else if starts_like(buf, &V2_SIGNATURE) {
        parse_v2(buf)
    } else {
        Parsed::Invalid("not a PROXY protocol header".into())
    }
}

/// What the first bytes of a connection say about a PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// The connection opens with "PROXY " or the version 2 signature.
    Header,
    /// It does not (a chat client's first frame starts with its length).
    NotHeader,
    /// It does not: it opens with a TLS handshake record (type 22,
    /// version 3.x), a TLS client's ClientHello.
    TlsHello,
    /// The bytes so far are the beginning of a signature: wait for more.
    Undecided,
}

/// Tells from the first bytes of a connection whether it opens with a
/// PROXY header. Decides as soon as the bytes part from both signatures:
/// usually on the very first byte.
pub fn sniff(first: &[u8]) -> Sniffed {
    let signatures: [&[u8]; 2] = [V1_PREFIX, &V2_SIGNATURE];
    if signatures.iter().any(|s| first.starts_with(s)) {
        Sniffed::Header
    } else if signatures.iter().any(|s| starts_like(first, s)) {
        Sniffed::Undecided
    } else if first.starts_with(&[0x16, 0x03]) {
        Sniffed::TlsHello
    } else {
        Sniffed::NotHeader
    }
}

/// Whether `buf` and `signature` agree on their common length.
fn starts_like(buf: &[u8], signature: &[u8]) -> bool {
    let n = buf.len().min(signature.len());
    buf[..n] == signature[..n]
}

/// Version 1: one line of text, "PROXY TCP4 SRC DST SPORT DPORT\r\n" (TCP6
/// likewise), or "PROXY UNKNOWN" and anything up to "\r\n".
fn parse_v1(buf: &[u8]) -> Parsed {
    let window = &buf[..buf.len().min(MAX_V1_LEN)];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_V1_LEN {
            Parsed::Invalid(format!("a v1 header ends within {MAX_V1_LEN} bytes"))
        } else {
            Parsed::NeedMore
        };
    };
    let Some(line) = window[..newline].strip_suffix(b"\r") else {
        return Parsed::Invalid("a v1 header ends with \\r\\n".into());
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return Parsed::Invalid("a v1 header is ASCII text".into());
    };
    let len = newline + 1;
    let fields: Vec<&str> = line.split(' ').collect();
    let source = match fields.as_slice() {
        // The specification: whatever follows UNKNOWN is ignored.
        ["PROXY", "UNKNOWN", ..] => None,
        ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |text: &str| match *family {
                "TCP4" => text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
                _ => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            };
            // The destination is the proxy's own listener: only checked.
            let (Some(src_ip), Some(_)) = (ip(src), ip(dst)) else {
                return Parsed::Invalid(format!(
                    "{src:?} and {dst:?} are not both {family} addresses"
                ));
            };
            let (Some(port), Some(_)) = (v1_port(sport), v1_port(dport)) else {
                return Parsed::Invalid(format!(
                    "ports are decimal numbers up to 65535, not {sport:?} and {dport:?}"
                ));
            };
            Some(SocketAddr::new(src_ip, port))
        }
        ["PROXY", "TCP4" | "TCP6", ..] => {
            return Parsed::Invalid(
                "a v1 TCP header has a source, a destination and two ports, separated by single spaces"
                    .into(),
            );
        }
        _ => return Parsed::Invalid("a v1 header's protocol is TCP4, TCP6 or UNKNOWN".into()),
    };
    Parsed::Done(Header { source, len })
}

/// A v1 port: 1 to 5 decimal digits (no sign), at most 65535.
fn v1_port(text: &str) -> Option<u16> {
    let digits = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

/// Version 2: the signature, version and command, family and transport,
/// the length of what follows (big-endian), then the addresses and TLVs.
fn parse_v2(buf: &[u8]) -> Parsed {
    if buf.len() < 16 {
        return Parsed::NeedMore;
    }
    let version = buf[12] >> 4;
    let command = buf[12] & 0x0f;
    let family = buf[13] >> 4;
    let transport = buf[13] & 0x0f;
    let len = 16 + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if version != 2 {
        return Parsed::Invalid(format!(
            "PROXY protocol version {version} (only 2 is binary)"
        ));
    }
    if command > 1 {
        return Parsed::Invalid(format!("v2 command {command} is neither LOCAL nor PROXY"));
    }
    if family > 3 || transport > 2 {
        return Parsed::Invalid(format!(
            "v2 address family {family} or transport {transport} is not defined"
        ));
    }
    if len > MAX_V2_LEN {
        return Parsed::Invalid(format!(
            "a v2 header of {len} bytes is over the limit of {MAX_V2_LEN}"
        ));
    }
    if buf.len() < len {
        return Parsed::NeedMore;
    }
    const LOCAL: u8 = 0;
    const AF_INET: u8 = 1;
    const AF_INET6: u8 = 2;
    // The addresses follow the fixed part; TLVs after them are skipped
    // with the rest of the header.
    let addresses = &buf[16..len];
    let source = match (command, family) {
        // A connection the proxy made itself (a health check): its own
        // address stands, whatever the block says.
        (LOCAL, _) => None,
        (_, AF_INET) => {
            let Some(block) = addresses.get(..12) else {
                return Parsed::Invalid("a v2 IPv4 address block is 12 bytes".into());
            };
            let ip: [u8; 4] = block[..4].try_into().expect("4 bytes");
            let port = u16::from_be_bytes([block[8], block[9]]);
            Some(SocketAddr::new(Ipv4Addr::from(ip).into(), port))
        }
        (_, AF_INET6) => {
            let Some(block) = addresses.get(..36) else {
                return Parsed::Invalid("a v2 IPv6 address block is 36 bytes".into());
            };
            let ip: [u8; 16] = block[..16].try_into().expect("16 bytes");
            let port = u16::from_be_bytes([block[32], block[33]]);
            Some(SocketAddr::new(Ipv6Addr::from(ip).into(), port))
        }
        // AF_UNSPEC or AF_UNIX: no IP address to give.
        _ => None,
    };
    Parsed::Done(Header { source, len })
}

/// Why [`arrive`] closed a connection.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("PROXY protocol header on a listener not marked trusted; closing")]
    Untrusted,
    #[error("invalid PROXY protocol header: {0}; closing")]
    Invalid(String),
    #[error("no PROXY protocol header within the handshake timeout; closing")]
    NoHeader,
    /// Not a refusal: the peer went away first.
    #[error("the connection closed during the PROXY protocol step")]
    Closed,
    #[error("the connection failed during the PROXY protocol step: {0}")]
    Io(#[from] std::io::Error),
}

/// What came of the PROXY protocol step.
#[derive(Debug)]
pub enum Arrival {
    /// Go on with the listener's own protocol: the stream is positioned on
    /// the client's first byte, `client` is its real address.
    Client {
        stream: TcpStream,
        client: SocketAddr,
        /// The first bytes are a TLS ClientHello. Only looked at on an
        /// untrusted listener (behind a trusted proxy: `false`).
        tls_hello: bool,
    },
    /// An untrusted listener's connection sent nothing that decides
    /// (nothing, or the beginning of a signature) before the deadline: the
    /// listener's protocol answers it as a client that never started its
    /// handshake.
    Silent(TcpStream),
    Refused(Refused),
}

/// How long to wait before looking again at a connection whose first
/// bytes are the beginning of a signature (peeking again at once would
/// spin). Only such connections wait: they cannot be chat clients.
const SNIFF_RETRY: Duration = Duration::from_millis(10);

/// The PROXY protocol step of a freshly accepted connection from `peer`,
/// by `deadline` (the listener's handshake timeout).
///
/// On a `trusted` listener the connection must open with a valid header;
/// it is read without consuming a byte beyond it, and the source it names
/// is the client (or `peer`, for LOCAL and UNKNOWN). Elsewhere the first
/// bytes are only peeked at: a connection that opens with a header is
/// refused, any other goes on untouched and as soon as its first byte
/// shows it.
pub async fn arrive(
    mut stream: TcpStream,
    peer: SocketAddr,
    trusted: bool,
    deadline: Instant,
) -> Arrival {
    if trusted {
        match tokio::time::timeout_at(deadline, read_header(&mut stream)).await {
            Ok(Ok(header)) => Arrival::Client {
                stream,
                client: header.source.unwrap_or(peer),
                tls_hello: false,
            },
            Ok(Err(refused)) => Arrival::Refused(refused),
            Err(_) => Arrival::Refused(Refused::NoHeader),
        }
    } else {
        match tokio::time::timeout_at(deadline, sniff_stream(&stream)).await {
            Ok(Ok(Sniffed::Header)) => Arrival::Refused(Refused::Untrusted),
            Ok(Ok(sniffed)) => Arrival::Client {
                stream,
                client: peer,
                tls_hello: sniffed == Sniffed::TlsHello,
            },
            Ok(Err(refused)) => Arrival::Refused(refused),
            Err(_) => Arrival::Silent(stream),
        }
    }
}

/// Reads a header and exactly its bytes. Each turn peeks at what has
/// arrived: a complete header is then read to its end; an incomplete one
/// is all header, so it is read whole, and the next peek waits for more.
async fn read_header(stream: &mut TcpStream) -> Result<Header, Refused> {
    let mut buf = vec![0u8; MAX_HEADER_LEN];
    let mut have = 0;
    loop {
        let arrived = stream.peek(&mut buf[have..]).await?;
        if arrived == 0 {
            return Err(Refused::Closed);
        }
        match parse(&buf[..have + arrived]) {
            Parsed::Done(header) => {
                stream.read_exact(&mut buf[have..header.len]).await?;
                return Ok(header);
            }
            Parsed::NeedMore => {
                stream.read_exact(&mut buf[have..have + arrived]).await?;
                have += arrived;
            }
            Parsed::Invalid(why) => return Err(Refused::Invalid(why)),
        }
    }
}

/// Peeks until the first bytes decide whether a header opens the stream;
/// never [`Sniffed::Undecided`].
async fn sniff_stream(stream: &TcpStream) -> Result<Sniffed, Refused> {
    let mut first = [0u8; V2_SIGNATURE.len()];
    loop {
        let arrived = stream.peek(&mut first).await?;
        if arrived == 0 {
            return Err(Refused::Closed);
        }
        match sniff(&first[..arrived]) {
            Sniffed::Undecided => tokio::time::sleep(SNIFF_RETRY).await,
            decided => return Ok(decided),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(source: &str, len: usize) -> Parsed {
        Parsed::Done(Header {
            source: Some(source.parse().unwrap()),
            len,
        })
    }

    fn invalid(parsed: Parsed) -> String {
        match parsed {
            Parsed::Invalid(why) => why,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    /// A v2 header: `ver_cmd`, `fam`, then `body` (addresses and TLVs).
    fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut bytes = V2_SIGNATURE.to_vec();
        bytes.push(ver_cmd);
        bytes.push(fam);
        bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    /// The IPv4 block of 203.0.113.7:51234 -> 192.0.2.1:7070.
    const V4_BLOCK: [u8; 12] = [203, 0, 113, 7, 192, 0, 2, 1, 0xc8, 0x22, 0x1b, 0x9e];

    #[test]
    fn v1_examples_from_the_specification() {
        let line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
        assert_eq!(
            parse(line.as_bytes()),
            done("192.168.0.1:56324", line.len())
        );
        let worst4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
        assert_eq!(
            parse(worst4.as_bytes()),
            done("255.255.255.255:65535", worst4.len())
        );
        let ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let worst6 = format!("PROXY TCP6 {ffff} {ffff} 65535 65535\r\n");
        assert_eq!(worst6.len(), 104);
        assert_eq!(
            parse(worst6.as_bytes()),
            done(&format!("[{ffff}]:65535"), 104)
        );
        let unknown = format!("PROXY UNKNOWN {ffff} {ffff} 65535 65535\r\n");
        assert_eq!(unknown.len(), MAX_V1_LEN, "the longest header there is");
        assert_eq!(
            parse(unknown.as_bytes()),
            Parsed::Done(Header {
                source: None,
                len: MAX_V1_LEN
            })
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n"),
            Parsed::Done(Header {
                source: None,
                len: 15
            })
        );
    }

    #[test]
    fn v1_leaves_what_follows_and_waits_for_the_end_of_line() {
        let mut bytes = b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 7070\r\n".to_vec();
        let len = bytes.len();
        bytes.extend_from_slice(&[0, 0, 0, 42, 1]);
        assert_eq!(parse(&bytes), done("203.0.113.7:51234", len));
        for cut in 0..len {
            assert_eq!(parse(&bytes[..cut]), Parsed::NeedMore, "cut at {cut}");
        }
    }

    #[test]
    fn v1_malformed_headers_are_refused() {
        for bad in [
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\r\n",
            "PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n",
            "PROXY TCP4 ::1 ::1 56324 443\r\n",
            "PROXY TCP6 192.168.0.1 192.168.0.11 56324 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.256 56324 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 +5632 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 -1\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n",
            "PROXY UDP4 192.168.0.1 192.168.0.11 56324 443\r\n",
            "PROXY tcp4 192.168.0.1 192.168.0.11 56324 443\r\n",
            "PROXY \r\n",
            "PROXYTCP4\r\n",
            "proxy TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Parsed::Invalid(_)),
                "{bad:?}"
            );
        }
        let endless = format!("PROXY UNKNOWN {}", "x".repeat(200));
        assert!(invalid(parse(endless.as_bytes())).contains("107"));
        assert!(matches!(parse(b"PROXY TCP4 \xff\r\n"), Parsed::Invalid(_)));
    }

    #[test]
    fn v2_ipv4_and_ipv6_with_tlvs_skipped() {
        let header = v2(0x21, 0x11, &V4_BLOCK);
        assert_eq!(parse(&header), done("203.0.113.7:51234", 28));

        // An AWS-style TLV (type 0xEA) after the addresses is skipped.
        let mut body = V4_BLOCK.to_vec();
        body.extend_from_slice(&[0xea, 0x00, 0x03, b'v', b'p', b'c']);
        let mut header = v2(0x21, 0x11, &body);
        let len = header.len();
        header.extend_from_slice(b"chat bytes");
        assert_eq!(parse(&header), done("203.0.113.7:51234", len));

        let mut block6 = Vec::new();
        block6.extend_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        block6.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        block6.extend_from_slice(&[0x30, 0x39, 0x1b, 0x9e]);
        assert_eq!(
            parse(&v2(0x21, 0x21, &block6)),
            done("[2001:db8::7]:12345", 52)
        );
    }

    #[test]
    fn v2_local_and_unspecified_keep_the_peer_address() {
        let peer_stands = |len| Parsed::Done(Header { source: None, len });
        assert_eq!(parse(&v2(0x20, 0x00, &[])), peer_stands(16));
        // LOCAL ignores an address block if there is one.
        assert_eq!(parse(&v2(0x20, 0x11, &V4_BLOCK)), peer_stands(28));
        assert_eq!(parse(&v2(0x21, 0x00, &[])), peer_stands(16));
        assert_eq!(parse(&v2(0x21, 0x31, &[0; 216])), peer_stands(232));
    }

    #[test]
    fn v2_waits_for_the_whole_header() {
        let header = v2(0x21, 0x11, &V4_BLOCK);
        for cut in 0..header.len() {
            assert_eq!(parse(&header[..cut]), Parsed::NeedMore, "cut at {cut}");
        }
    }

    #[test]
    fn v2_malformed_headers_are_refused() {
        assert!(invalid(parse(&v2(0x11, 0x11, &V4_BLOCK))).contains("version 1"));
        assert!(invalid(parse(&v2(0x22, 0x11, &V4_BLOCK))).contains("command 2"));
        assert!(matches!(
            parse(&v2(0x21, 0x41, &V4_BLOCK)),
            Parsed::Invalid(_)
        ));
        assert!(matches!(
            parse(&v2(0x21, 0x13, &V4_BLOCK)),
            Parsed::Invalid(_)
        ));
        assert!(invalid(parse(&v2(0x21, 0x11, &V4_BLOCK[..11]))).contains("12 bytes"));
        assert!(invalid(parse(&v2(0x21, 0x21, &V4_BLOCK))).contains("36 bytes"));
        // The length is checked on the fixed 16 bytes, before the rest
        // arrives.
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(invalid(parse(&huge)).contains("over the limit"));
    }

    #[test]
    fn other_bytes_are_not_a_header() {
        assert!(matches!(parse(&[0, 0, 0, 20, 1]), Parsed::Invalid(_)));
        assert!(matches!(parse(b"GET / HTTP/1.1\r\n"), Parsed::Invalid(_)));
        assert_eq!(parse(b""), Parsed::NeedMore);
        assert_eq!(parse(b"PRO"), Parsed::NeedMore);
        assert_eq!(parse(b"\r\n\r\n\0"), Parsed::NeedMore);
    }

    #[test]
    fn sniffing_decides_on_the_first_byte_that_differs() {
        // A chat client's HELLO starts with its 4-byte length.
        assert_eq!(sniff(&[0]), Sniffed::NotHeader);
        assert_eq!(sniff(&[0, 0, 0, 30, 1, 0, 0, 0, 1]), Sniffed::NotHeader);
        // A TLS ClientHello, an HTTP request.
        assert_eq!(sniff(&[0x16, 3, 1]), Sniffed::TlsHello);
        assert_eq!(sniff(&[0x16]), Sniffed::NotHeader, "decided on one byte");
        assert_eq!(sniff(b"POST / HTTP/1.1"), Sniffed::NotHeader);
        assert_eq!(sniff(b""), Sniffed::Undecided);
        assert_eq!(sniff(b"PROXY"), Sniffed::Undecided);
        assert_eq!(sniff(b"PROXY "), Sniffed::Header);
        assert_eq!(sniff(b"PROXY TCP4 1.2"), Sniffed::Header);
        assert_eq!(sniff(&V2_SIGNATURE[..11]), Sniffed::Undecided);
        assert_eq!(sniff(&V2_SIGNATURE), Sniffed::Header);
        assert_eq!(sniff(b"\r\n\r\nX"), Sniffed::NotHeader);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = sniff(&bytes);
            if let Parsed::Done(header) = parse(&bytes) {
                proptest::prop_assert!(header.len <= bytes.len());
            }
        }

        #[test]
        fn random_bodies_after_a_signature_never_panic(
            v1 in proptest::bool::ANY,
            rest in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let mut bytes = if v1 { V1_PREFIX.to_vec() } else { V2_SIGNATURE.to_vec() };
            bytes.extend_from_slice(&rest);
            match parse(&bytes) {
                Parsed::Done(header) => proptest::prop_assert!(header.len <= bytes.len()),
                Parsed::NeedMore => proptest::prop_assert!(bytes.len() < MAX_HEADER_LEN),
                Parsed::Invalid(_) => {}
            }
        }
    }
}
