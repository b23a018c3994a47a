//! Which IP addresses an outbound request may reach: the classification table behind
//! [`super::Policy`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where an address points, from most to least reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// The public internet.
    Public,
    /// This host or a private network (loopback, RFC 1918, CGNAT, unique-local, and IPv4
    /// addresses written as IPv6): allowed only with `webhook_allow_private_networks`.
    Private,
    /// Never a receiver: unspecified, link-local (cloud metadata), multicast, broadcast,
    /// documentation, benchmarking and reserved ranges.
    Refused,
}

/// Classifies `ip`.
pub fn reach(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => reach_v4(v4),
        IpAddr::V6(v6) => reach_v6(v6),
    }
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network"; 0.0.0.0 reaches this host on Linux
        || ip.is_link_local() // 169.254/16: cloud metadata
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved 240/4, broadcast
    let private = a == 127 // loopback
        || a == 10
        || (a == 172 && (b & 0xf0) == 16)
        || (a == 192 && b == 168)
        || (a == 100 && (b & 0xc0) == 64); // CGNAT 100.64/10
    if refused {
        Reach::Refused
    } else if private {
        Reach::Private
    } else {
        Reach::Public
    }
}

fn reach_v6(ip: Ipv6Addr) -> Reach {
    let s = ip.segments();
    if ip.is_unspecified() || s[0] & 0xff00 == 0xff00 {
        return Reach::Refused; // :: and multicast
    }
    if ip.is_loopback() {
        return Reach::Private;
    }
    // An IPv4 address written as IPv6 (mapped ::ffff:0:0/96, compatible ::/96, NAT64
    // 64:ff9b::/96, 6to4 2002::/16) is never public: it would let a private IPv4 target past a
    // check of the IPv6 form.
    let embedded = match s {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] | [0x64, 0xff9b, 0, 0, 0, 0, ..] => {
            Some(Ipv4Addr::new(
                (s[6] >> 8) as u8,
                s[6] as u8,
                (s[7] >> 8) as u8,
                s[7] as u8,
            ))
        }
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    };
    if let Some(v4) = embedded {
        return reach_v4(v4).max(Reach::Private);
    }
    let refused = s[0] & 0xffc0 == 0xfe80 // link-local fe80::/10
        || s[0] & 0xffc0 == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard 100::/64
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF assignments 2001::/23 (Teredo, benchmarking)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0] & 0xfff0 == 0x3ff0 // documentation 3fff::/20
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1); // local-use NAT64 64:ff9b:1::/48
    if refused {
        Reach::Refused
    } else if s[0] & 0xfe00 == 0xfc00 {
        Reach::Private // unique-local fc00::/7
    } else {
        Reach::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_address_is_classified() {
        use Reach::*;
        let table = [
            ("93.184.215.14", Public),
            ("8.8.8.8", Public),
            ("100.63.255.255", Public),
            ("100.128.0.1", Public),
            ("172.32.0.1", Public),
            ("127.0.0.1", Private),
            ("127.8.9.10", Private),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("0.0.0.0", Refused),
            ("0.1.2.3", Refused),
            ("169.254.169.254", Refused),
            ("192.0.0.8", Refused),
            ("192.0.2.1", Refused),
            ("198.18.0.1", Refused),
            ("198.19.255.255", Refused),
            ("198.51.100.7", Refused),
            ("203.0.113.9", Refused),
            ("224.0.0.1", Refused),
            ("239.255.255.250", Refused),
            ("240.0.0.1", Refused),
            ("255.255.255.255", Refused),
            ("2606:4700:4700::1111", Public),
            ("2a00:1450:4001:80b::200e", Public),
            ("::1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("::", Refused),
            ("fe80::1", Refused),
            ("febf::1", Refused),
            ("fec0::1", Refused),
            ("ff02::1", Refused),
            ("2001:db8::1", Refused),
            ("2001::1", Refused),
            ("3fff::1", Refused),
            ("100::1", Refused),
            ("64:ff9b:1::1", Refused),
            // IPv4 written as IPv6: at best private, and refused when the IPv4 is.
            ("::ffff:127.0.0.1", Private),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:8.8.8.8", Private),
            ("::ffff:169.254.169.254", Refused),
            ("::127.0.0.1", Private),
            ("64:ff9b::8.8.8.8", Private),
            ("64:ff9b::a9fe:a9fe", Refused),
            ("2002:7f00:1::", Private),
            ("2002:a9fe:a9fe::", Refused),
        ];
        for (ip, want) in table {
            let got = reach(ip.parse().unwrap());
            assert_eq!(got, want, "{ip}");
        }
    }
}
