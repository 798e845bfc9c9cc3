//! Calls out to addresses that someone else chose (a provider's webhook
//! endpoint): only to the public internet, so a provider key cannot make
//! the server reach its own network (server-side request forgery), a
//! cloud metadata service (169.254.169.254) or a database on loopback.
//!
//! Two checks, because either alone is not enough: [`refusal`] on the
//! address a URL names, when it is registered and before each call, and
//! [`PublicOnlyResolver`] on every address a name resolves to when the
//! connection is made, so a name that resolved to a public address when
//! registered and to 10.0.0.5 later (DNS rebinding) reaches nothing.
//!
//! The refused ranges are those of the IANA IPv4 and IPv6 Special-Purpose
//! Address Registries (RFC 6890) that are not globally reachable, plus
//! multicast and the reserved 240.0.0.0/4; IPv6 forms that embed an IPv4
//! address (IPv4-mapped `::ffff:a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, NAT64's
//! `64:ff9b::a.b.c.d`) are judged by the IPv4 address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};

/// Whether loopback may be called: only in development, where a webhook
/// receiver runs on the same machine (`WEBHOOK_ALLOW_LOOPBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboundPolicy {
    pub allow_loopback: bool,
}

/// Why an address is refused: the range it falls in and the rule's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The range, e.g. `169.254.0.0/16`.
    pub range: &'static str,
    /// What the range is, e.g. `link-local (RFC 3927)`.
    pub why: &'static str,
    /// Whether the range is loopback (allowed by [`OutboundPolicy`]).
    pub loopback: bool,
    /// The IPv4 address an IPv6 address carries, when that is what was
    /// judged (IPv4-mapped, IPv4-translated, NAT64).
    pub embeds: Option<Ipv4Addr>,
}

/// A predicate for "the address …": "is in 10.0.0.0/8, private (RFC
/// 1918)", or for an IPv6 form carrying an IPv4 address "embeds 10.0.0.5,
/// which is in 10.0.0.0/8, private (RFC 1918)".
impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(inner) = self.embeds {
            write!(f, "embeds {inner}, which ")?;
        }
        write!(f, "is in {}, {}", self.range, self.why)
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the eight groups of an IPv6 address"
)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// (range, text, what it is, loopback)
const IPV4: [(Ipv4Net, &str, &str, bool); 15] = [
    (
        v4(0, 0, 0, 0, 8),
        "0.0.0.0/8",
        "\"this network\", unspecified (RFC 791)",
        false,
    ),
    (
        v4(10, 0, 0, 0, 8),
        "10.0.0.0/8",
        "private (RFC 1918)",
        false,
    ),
    (
        v4(100, 64, 0, 0, 10),
        "100.64.0.0/10",
        "shared address space, carrier-grade NAT (RFC 6598)",
        false,
    ),
    (
        v4(127, 0, 0, 0, 8),
        "127.0.0.0/8",
        "loopback (RFC 1122)",
        true,
    ),
    (
        v4(169, 254, 0, 0, 16),
        "169.254.0.0/16",
        "link-local, where cloud metadata services answer (RFC 3927)",
        false,
    ),
    (
        v4(172, 16, 0, 0, 12),
        "172.16.0.0/12",
        "private (RFC 1918)",
        false,
    ),
    (
        v4(192, 0, 0, 0, 24),
        "192.0.0.0/24",
        "IETF protocol assignments (RFC 6890)",
        false,
    ),
    (
        v4(192, 0, 2, 0, 24),
        "192.0.2.0/24",
        "documentation, TEST-NET-1 (RFC 5737)",
        false,
    ),
    (
        v4(192, 88, 99, 0, 24),
        "192.88.99.0/24",
        "deprecated 6to4 relay anycast (RFC 7526)",
        false,
    ),
    (
        v4(192, 168, 0, 0, 16),
        "192.168.0.0/16",
        "private (RFC 1918)",
        false,
    ),
    (
        v4(198, 18, 0, 0, 15),
        "198.18.0.0/15",
        "benchmarking (RFC 2544)",
        false,
    ),
    (
        v4(198, 51, 100, 0, 24),
        "198.51.100.0/24",
        "documentation, TEST-NET-2 (RFC 5737)",
        false,
    ),
    (
        v4(203, 0, 113, 0, 24),
        "203.0.113.0/24",
        "documentation, TEST-NET-3 (RFC 5737)",
        false,
    ),
    (
        v4(224, 0, 0, 0, 4),
        "224.0.0.0/4",
        "multicast (RFC 5771)",
        false,
    ),
    (
        v4(240, 0, 0, 0, 4),
        "240.0.0.0/4",
        "reserved, incl. broadcast 255.255.255.255 (RFC 1112, RFC 919)",
        false,
    ),
];

/// Checked in order: loopback and unspecified before the IPv4-compatible
/// range that contains them.
const IPV6: [(Ipv6Net, &str, &str, bool); 16] = [
    (
        v6(0, 0, 0, 0, 0, 0, 0, 0, 128),
        "::/128",
        "unspecified (RFC 4291)",
        false,
    ),
    (
        v6(0, 0, 0, 0, 0, 0, 0, 1, 128),
        "::1/128",
        "loopback (RFC 4291)",
        true,
    ),
    (
        v6(0, 0, 0, 0, 0, 0, 0, 0, 96),
        "::/96",
        "deprecated IPv4-compatible (RFC 4291)",
        false,
    ),
    (
        v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0, 48),
        "64:ff9b:1::/48",
        "local-use IPv4/IPv6 translation (RFC 8215)",
        false,
    ),
    (
        v6(0x100, 0, 0, 0, 0, 0, 0, 0, 64),
        "100::/64",
        "discard-only (RFC 6666)",
        false,
    ),
    (
        v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0, 32),
        "2001:db8::/32",
        "documentation (RFC 3849)",
        false,
    ),
    (
        v6(0x2001, 0, 0, 0, 0, 0, 0, 0, 23),
        "2001::/23",
        "IETF protocol assignments, incl. Teredo and benchmarking (RFC 2928)",
        false,
    ),
    (
        v6(0x2002, 0, 0, 0, 0, 0, 0, 0, 16),
        "2002::/16",
        "6to4, which tunnels to an embedded IPv4 address (RFC 3056)",
        false,
    ),
    (
        v6(0x3fff, 0, 0, 0, 0, 0, 0, 0, 20),
        "3fff::/20",
        "documentation (RFC 9637)",
        false,
    ),
    (
        v6(0x5f00, 0, 0, 0, 0, 0, 0, 0, 16),
        "5f00::/16",
        "segment routing SIDs (RFC 9602)",
        false,
    ),
    (
        v6(0xfc00, 0, 0, 0, 0, 0, 0, 0, 7),
        "fc00::/7",
        "unique local, IPv6's private range (RFC 4193)",
        false,
    ),
    (
        v6(0xfe80, 0, 0, 0, 0, 0, 0, 0, 10),
        "fe80::/10",
        "link-local (RFC 4291)",
        false,
    ),
    (
        v6(0xfec0, 0, 0, 0, 0, 0, 0, 0, 10),
        "fec0::/10",
        "deprecated site-local (RFC 3879)",
        false,
    ),
    (
        v6(0xff00, 0, 0, 0, 0, 0, 0, 0, 8),
        "ff00::/8",
        "multicast (RFC 4291)",
        false,
    ),
    // The two translation prefixes are judged by the IPv4 address they
    // carry (see `embedded_ipv4`); listed here for anything left over.
    (
        v6(0, 0, 0, 0, 0, 0xffff, 0, 0, 96),
        "::ffff:0:0/96",
        "IPv4-mapped (RFC 4291)",
        false,
    ),
    (
        v6(0, 0, 0, 0, 0xffff, 0, 0, 0, 96),
        "::ffff:0:0:0/96",
        "IPv4-translated (RFC 2765)",
        false,
    ),
];

/// The IPv4 address an IPv6 address stands for, when it embeds one that
/// a host or a NAT64 gateway would connect to: IPv4-mapped
/// `::ffff:a.b.c.d` (RFC 4291), IPv4-translated `::ffff:0:a.b.c.d`
/// (RFC 2765) and the NAT64 well-known prefix `64:ff9b::/96` (RFC 6052).
fn embedded_ipv4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = address.segments();
    let last = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        _ => None,
    }
}

/// Why `address` may not be called, or `None` when it is a public
/// address. Loopback is reported too (with `loopback` set): the caller's
/// [`OutboundPolicy`] decides.
pub fn refusal(address: IpAddr) -> Option<Refusal> {
    match address {
        IpAddr::V4(v4) => {
            IPV4.iter()
                .find(|(net, ..)| net.contains(&v4))
                .map(|&(_, range, why, loopback)| Refusal {
                    range,
                    why,
                    loopback,
                    embeds: None,
                })
        }
        IpAddr::V6(v6) => {
            if let Some(inner) = embedded_ipv4(v6) {
                return refusal(IpAddr::V4(inner)).map(|refusal| Refusal {
                    embeds: Some(inner),
                    ..refusal
                });
            }
            IPV6.iter()
                .find(|(net, ..)| net.contains(&v6))
                .map(|&(_, range, why, loopback)| Refusal {
                    range,
                    why,
                    loopback,
                    embeds: None,
                })
        }
    }
}

impl OutboundPolicy {
    /// Why this policy refuses `address`, if it does.
    pub fn refuses(&self, address: IpAddr) -> Option<Refusal> {
        refusal(address).filter(|refusal| !(refusal.loopback && self.allow_loopback))
    }
}

/// A resolver that drops every address the policy refuses, so the
/// connection is made only to public addresses whatever the name
/// resolves to at that moment. A name left with no address fails the
/// connection with an error naming the addresses dropped and why.
#[derive(Debug, Clone)]
pub struct PublicOnlyResolver {
    policy: OutboundPolicy,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // The system resolver, as reqwest's default (getaddrinfo on a
            // blocking thread); the port is replaced by the connector.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|address| policy.refuses(address.ip()).is_none());
            if public.is_empty() {
                let reasons: Vec<String> = refused
                    .iter()
                    .filter_map(|address| {
                        policy
                            .refuses(address.ip())
                            .map(|why| format!("{}, which {why}", address.ip()))
                    })
                    .collect();
                let error = if reasons.is_empty() {
                    format!("{host} resolves to no address at all")
                } else {
                    format!(
                        "{host} resolves to no public address: refused {}",
                        reasons.join("; ")
                    )
                };
                return Err(error.into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}

/// How long a call out may take to connect, and in all.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer's body kept (for the delivery log); reading stops
/// once it is there, so at most one more network read (hyper's buffer) is
/// taken in.
pub const MAX_BODY_BYTES: usize = 1024;

/// A client for calls to addresses others chose: the [`PublicOnlyResolver`],
/// no redirects (a redirect could point anywhere, and an endpoint that
/// moved must be registered again), no proxy from the environment (a
/// proxy would resolve the name itself, past the resolver), and the
/// timeouts above.
///
/// Fails only when the TLS backend cannot start; the server then does not
/// start, rather than send webhooks through a client without these checks.
pub fn client(policy: OutboundPolicy) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PublicOnlyResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .build()
}

/// The first [`MAX_BODY_BYTES`] of an answer's body, lossily as text; the
/// rest is never read, so an endpoint cannot make the server read or keep
/// a large answer.
pub async fn body_excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < MAX_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(MAX_BODY_BYTES);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(address: &str) -> Option<&'static str> {
        refusal(address.parse().expect("address")).map(|refusal| refusal.range)
    }

    #[test]
    fn every_special_purpose_range_is_refused() {
        let cases = [
            ("0.0.0.0", "0.0.0.0/8"),
            ("10.0.0.5", "10.0.0.0/8"),
            ("100.64.0.1", "100.64.0.0/10"),
            ("100.127.255.255", "100.64.0.0/10"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.255.0.9", "127.0.0.0/8"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("172.16.0.1", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.0.0.8", "192.0.0.0/24"),
            ("192.0.2.1", "192.0.2.0/24"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("198.19.255.1", "198.18.0.0/15"),
            ("198.51.100.7", "198.51.100.0/24"),
            ("203.0.113.7", "203.0.113.0/24"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("239.255.255.250", "224.0.0.0/4"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.255", "240.0.0.0/4"),
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("::127.0.0.1", "::/96"),
            ("fd00::1", "fc00::/7"),
            ("fc00::1", "fc00::/7"),
            ("fe80::1", "fe80::/10"),
            ("fec0::1", "fec0::/10"),
            ("ff02::1", "ff00::/8"),
            ("2001:db8::1", "2001:db8::/32"),
            ("2001::1", "2001::/23"),
            ("2002:a00:5::1", "2002::/16"),
            ("100::1", "100::/64"),
            ("64:ff9b:1::1", "64:ff9b:1::/48"),
            ("3fff::1", "3fff::/20"),
            // Embedded IPv4 addresses are judged by what they carry.
            ("::ffff:127.0.0.1", "127.0.0.0/8"),
            ("::ffff:169.254.169.254", "169.254.0.0/16"),
            ("::ffff:10.0.0.5", "10.0.0.0/8"),
            ("::ffff:0:192.168.0.1", "192.168.0.0/16"),
            ("64:ff9b::10.0.0.5", "10.0.0.0/8"),
            ("64:ff9b::127.0.0.1", "127.0.0.0/8"),
        ];
        for (address, range) in cases {
            assert_eq!(refused(address), Some(range), "{address}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert_eq!(refused(address), None, "{address}");
        }
    }

    #[test]
    fn only_loopback_is_allowed_by_the_development_policy() {
        let development = OutboundPolicy {
            allow_loopback: true,
        };
        for address in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            let address: IpAddr = address.parse().expect("address");
            assert!(development.refuses(address).is_none(), "{address}");
            assert!(OutboundPolicy::default().refuses(address).is_some());
        }
        for address in ["10.0.0.5", "169.254.169.254", "fd00::1"] {
            let address: IpAddr = address.parse().expect("address");
            assert!(development.refuses(address).is_some(), "{address}");
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_loopback_names() {
        use reqwest::dns::Resolve;
        let name = || -> reqwest::dns::Name { "localhost".parse().expect("name") };
        let Err(error) = (PublicOnlyResolver {
            policy: OutboundPolicy::default(),
        })
        .resolve(name())
        .await
        else {
            panic!("localhost must resolve to no allowed address");
        };
        assert!(error.to_string().contains("loopback"), "{error}");
        let allowed: Vec<SocketAddr> = PublicOnlyResolver {
            policy: OutboundPolicy {
                allow_loopback: true,
            },
        }
        .resolve(name())
        .await
        .expect("loopback allowed in development")
        .collect();
        assert!(allowed.iter().all(|address| address.ip().is_loopback()));
    }
}
