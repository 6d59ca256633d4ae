//! Who the client is, behind reverse proxies.
//!
//! `X-Forwarded-For`, `X-Forwarded-Host`, `X-Forwarded-Proto` and
//! `Forwarded` are written by whoever sends the request, so they are
//! believed only from the peers listed in `TRUSTED_PROXIES` (addresses or
//! CIDR ranges of your load balancers). From anyone else the client is the
//! TCP peer, the host is the `Host` header, and the scheme is the one the
//! server expects browsers to use: `https` in production (its cookies are
//! `Secure`), `http` in development.

use std::net::IpAddr;

use actix_web::{HttpRequest, http::header, web};
use ipnet::IpNet;

use crate::startup::AppState;

/// The peers whose forwarding headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `10.0.0.1, 10.1.0.0/16, fd00::/8`.
    ///
    /// # Errors
    /// The first entry that is neither an address nor a CIDR range.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not an address or a CIDR range"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` is one of them.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn state(req: &HttpRequest) -> Option<&AppState> {
    req.app_data::<web::Data<AppState>>().map(|d| d.get_ref())
}

/// Whether the request came through a trusted proxy.
fn via_trusted_proxy(req: &HttpRequest) -> bool {
    match (state(req), req.peer_addr()) {
        (Some(state), Some(peer)) => state.trusted_proxies.trusts(peer.ip()),
        _ => false,
    }
}

/// The client's address: the TCP peer, or behind trusted proxies the last
/// `X-Forwarded-For` address that is not one of them.
pub fn client_addr(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    if !via_trusted_proxy(req) {
        return peer;
    }
    let trusted = state(req).map(|s| &s.trusted_proxies);
    req.headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .rev()
        .find(|ip| !trusted.is_some_and(|t| t.trusts(*ip)))
        .or(peer)
}

/// The origin (`scheme://host[:port]`) a browser on our page sends: the
/// forwarded one behind a trusted proxy, else the `Host` header with the
/// scheme the server expects.
pub fn public_origin(req: &HttpRequest) -> String {
    if via_trusted_proxy(req) {
        let info = req.connection_info();
        return format!("{}://{}", info.scheme(), info.host()).to_ascii_lowercase();
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let scheme = match state(req) {
        Some(state) if state.dev_mode => "http",
        _ => "https",
    };
    format!("{scheme}://{host}").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_are_addresses_or_ranges() {
        let t = TrustedProxies::parse(" 10.0.0.1, 10.1.0.0/16 ,fd00::/8").unwrap_or_default();
        assert!(t.trusts("10.0.0.1".parse().unwrap_or(IpAddr::from([0; 4]))));
        assert!(t.trusts("10.1.200.3".parse().unwrap_or(IpAddr::from([0; 4]))));
        assert!(!t.trusts("10.2.0.1".parse().unwrap_or(IpAddr::from([0; 4]))));
        assert!(TrustedProxies::parse("10.0.0.1, nope").is_err());
        assert!(TrustedProxies::parse("").unwrap_or_default().is_empty());
    }
}
