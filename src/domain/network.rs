//! CIDR network lists (`10.0.0.0/8, 2001:db8::/32, 203.0.113.7`) and membership of an address.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// `addr/prefix`, or a bare address (one host).
    pub fn parse(s: &str) -> Option<Network> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Digits only: `u8::from_str` would take `+8`.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
        };
        (prefix <= max).then_some(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // A v4 peer may arrive as `::ffff:a.b.c.d` on a dual-stack socket.
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => same_prefix(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => same_prefix(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (bytes, bits) = (usize::from(prefix / 8), prefix % 8);
    if a[..bytes] != b[..bytes] {
        return false;
    }
    bits == 0 || (a[bytes] ^ b[bytes]) >> (8 - bits) == 0
}

/// A comma-separated list; `Err` names the first entry that is not a network.
pub fn parse_list(s: &str) -> Result<Vec<Network>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Network::parse(p).ok_or_else(|| p.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let n = parse_list("10.0.0.0/8, 192.168.1.128/25,2001:db8::/32, 203.0.113.7").unwrap();
        let any = |a: &str| n.iter().any(|n| n.contains(ip(a)));
        assert!(any("10.255.0.1"));
        assert!(any("192.168.1.200"));
        assert!(!any("192.168.1.127"));
        assert!(any("2001:db8:1::1"));
        assert!(any("203.0.113.7"));
        assert!(!any("203.0.113.8"));
        assert!(any("::ffff:10.1.2.3"));
        assert!(!any("11.0.0.1"));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }

    #[test]
    fn malformed_entries_are_named() {
        assert_eq!(
            parse_list("10.0.0.0/8, 10.0.0.0/33"),
            Err("10.0.0.0/33".into())
        );
        assert_eq!(parse_list("10.0.0.0/+8"), Err("10.0.0.0/+8".into()));
        assert_eq!(parse_list("example.com"), Err("example.com".into()));
        assert_eq!(parse_list(" ").unwrap(), vec![]);
    }
}
