//! Downloading an image from a URL a provider gave us (E2). The URL comes from the answer,
//! not from the operator, so a hostile or compromised compatible server could point it at
//! our own network (`http://127.0.0.1:6379`, a cloud's metadata service at
//! `169.254.169.254`). We fetch only `https` URLs whose host resolves to public addresses,
//! check every redirect the same way, and connect to the addresses we checked (the resolver
//! filters them, so a name cannot resolve one way for the check and another for the
//! connection). The operator can allow hosts (a local engine on the LAN, a compatible
//! server on loopback that links to itself): those may use `http` and private addresses.
//!
//! Downloads go direct, never through a system proxy, because a proxy would resolve the
//! name itself and the address check would see nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use super::body::{self, Budget};
use super::ProviderError;

/// At most this many redirects, each checked.
const MAX_REDIRECTS: usize = 5;

/// Hosts the operator trusts with `http` and private addresses: `host` or `host:port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<(String, Option<u16>)>);

impl AllowedHosts {
    /// Parses `a.lan, 10.0.0.5:8188, [::1]:9000`; an entry that is not a host is an error.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut hosts = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let url = Url::parse(&format!("http://{entry}/")).map_err(|_| format!("`{entry}` is not a host"))?;
            let host = url.host_str().ok_or_else(|| format!("`{entry}` is not a host"))?;
            hosts.push((host.to_ascii_lowercase(), url.port()));
        }
        Ok(Self(hosts))
    }

    /// Adds the origin of `url` (a compatible server on loopback or the LAN may link to
    /// itself), when it is an IP address or `localhost`: a name's owner could point it
    /// anywhere later (DNS rebinding), so a named origin must be allowed by the operator.
    pub fn with_origin_of(mut self, url: &str) -> Self {
        if let Ok(url) = Url::parse(url) {
            if let Some(host) = url.host_str().map(str::to_ascii_lowercase) {
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                if bare.parse::<IpAddr>().is_ok() || host == "localhost" {
                    self.0.push((host, url.port_or_known_default()));
                }
            }
        }
        self
    }

    fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else { return false };
        let port = url.port_or_known_default();
        self.0.iter().any(|(h, p)| *h == host && (p.is_none() || *p == port))
    }

    fn allows_name(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.0.iter().any(|(h, _)| *h == name)
    }
}

/// Whether an address is one a provider's link may reach: not ours, not a private network's.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // shared address space (carrier NAT), IETF protocol assignments, benchmarking, reserved
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // ::/8 (IPv4-compatible and other reserved forms), discard-only, site-local
        || first < 0x0100
        || (first == 0x0100 && second == 0)
        || (first & 0xffc0) == 0xfec0
        // documentation, and the NAT64 / 6to4 / Teredo prefixes that embed an IPv4 address
        || (first == 0x2001 && second == 0x0db8)
        || first == 0x0064
        || first == 0x2002
        || (first == 0x2001 && second == 0))
}

/// Why a URL is not fetched; `None` when it may be.
fn refusal(url: &Url, allowed: &AllowedHosts) -> Option<String> {
    if allowed.allows(url) {
        return None;
    }
    // The resolver keeps private addresses for an allowed name, whatever the port: another
    // port of that host is not what the operator allowed.
    if url.host_str().is_some_and(|h| allowed.allows_name(h)) {
        return Some(format!("port {} of an allowed host is not allowed", url.port_or_known_default().unwrap_or(0)));
    }
    if url.scheme() != "https" {
        return Some(format!("a {} link is not fetched (https only)", url.scheme()));
    }
    let Some(host) = url.host_str() else { return Some("a link without a host".into()) };
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) if !is_public(ip) => Some(format!("{ip} is not a public address")),
        _ => None,
    }
}

/// Resolves names as the system does, keeping public addresses only (all of them for an
/// allowed host).
struct PublicOnly {
    allowed: AllowedHosts,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.allows_name(name.as_str());
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| allowed || is_public(a.ip())).collect();
            if kept.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The client that fetches providers' links.
#[derive(Clone)]
pub struct Downloader {
    http: reqwest::Client,
    allowed: Arc<AllowedHosts>,
}

impl Downloader {
    pub fn new(allowed: AllowedHosts) -> Result<Self, reqwest::Error> {
        let allowed = Arc::new(allowed);
        let checked = Arc::clone(&allowed);
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            // `previous` holds the first URL too.
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error("too many redirects");
            }
            match refusal(attempt.url(), &checked) {
                Some(why) => attempt.error(format!("redirected to a refused link: {why}")),
                None => attempt.follow(),
            }
        });
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(redirects)
            .no_proxy()
            .dns_resolver(PublicOnly { allowed: (*allowed).clone() })
            .build()?;
        Ok(Self { http, allowed })
    }

    /// The image at `url`, within [`Budget::Image`] and `timeout`.
    pub async fn image(&self, url: &str, timeout: Duration) -> Result<Vec<u8>, ProviderError> {
        let refused = |why: String| ProviderError::BadResponse(format!("the image link was refused: {why}"));
        let url = Url::parse(url).map_err(|_| refused("not a URL".into()))?;
        if let Some(why) = refusal(&url, &self.allowed) {
            return Err(refused(why));
        }
        let network = |e: reqwest::Error| {
            if e.is_timeout() {
                ProviderError::Timeout
            } else if e.is_redirect() || e.is_connect() {
                // The policy's or the resolver's refusal, or a host that is not there.
                refused(source_text(&e))
            } else {
                ProviderError::Network(e.without_url().to_string())
            }
        };
        let res = self.http.get(url).timeout(timeout).send().await.map_err(network)?;
        if !res.status().is_success() {
            return Err(ProviderError::Server { status: res.status().as_u16() });
        }
        body::read(res, Budget::Image, network).await
    }
}

/// The innermost cause of a reqwest error, without its URL.
fn source_text(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str, allowed: &AllowedHosts) -> bool {
        refusal(&Url::parse(url).expect("url"), allowed).is_some()
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::ffff:0:7f00:1",
            "fec0::1",
            "100::1",
            "64:ff9b::7f00:1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn only_https_to_public_hosts_unless_the_operator_allows_the_host() {
        let none = AllowedHosts::default();
        assert!(refused("http://example.com/a.png", &none));
        assert!(refused("https://127.0.0.1/a.png", &none));
        assert!(refused("https://169.254.169.254/latest/meta-data/", &none));
        assert!(refused("https://[::1]:8080/a.png", &none));
        assert!(refused("file:///etc/passwd", &none));
        assert!(!refused("https://files.example.com/a.png", &none));
        let lan = AllowedHosts::parse("comfy.lan, 127.0.0.1:8188").expect("hosts");
        assert!(!refused("http://comfy.lan:8000/a.png", &lan));
        assert!(!refused("http://127.0.0.1:8188/view", &lan));
        assert!(refused("http://127.0.0.1:6379/", &lan));
        assert!(refused("https://127.0.0.1:6379/", &lan), "another port of an allowed address");
        let named = AllowedHosts::parse("comfy.lan:8188").expect("hosts");
        assert!(refused("https://comfy.lan:6379/", &named), "another port of an allowed name");
        assert!(AllowedHosts::parse("not a host/").is_err());
    }

    #[test]
    fn the_providers_own_origin_is_allowed_when_it_is_an_address_or_localhost() {
        let own = AllowedHosts::default().with_origin_of("http://127.0.0.1:9000/v1");
        assert!(!refused("http://127.0.0.1:9000/files/a.png", &own));
        assert!(refused("http://127.0.0.1:9001/files/a.png", &own));
        let local = AllowedHosts::default().with_origin_of("http://localhost:8080/v1");
        assert!(!refused("http://localhost:8080/generated/a.png", &local));
        // A name could be pointed at our network later: the operator must allow it.
        let named = AllowedHosts::default().with_origin_of("http://ai.example.com/v1");
        assert!(refused("http://ai.example.com/generated/a.png", &named));
    }

    #[tokio::test]
    async fn the_resolver_drops_private_addresses_unless_the_name_is_allowed() {
        let strict = PublicOnly { allowed: AllowedHosts::default() };
        let name: Name = "localhost".parse().expect("name");
        assert!(strict.resolve(name).await.is_err(), "localhost resolves only to loopback");
        let allowed = PublicOnly { allowed: AllowedHosts::parse("localhost:8080").expect("hosts") };
        let name: Name = "localhost".parse().expect("name");
        let addrs: Vec<SocketAddr> = allowed.resolve(name).await.expect("resolved").collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
