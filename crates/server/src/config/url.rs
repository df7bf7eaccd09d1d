//! URLs as etcd writes them: `http://host:port` or `https://host:port`.

use std::fmt;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::net::ToSocketAddrs;

/// Plaintext or TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http://`: plaintext gRPC for clients; QUIC (always encrypted) for peers.
    Http,
    /// `https://`: TLS.
    Https,
}

/// A parsed `scheme://host:port` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    /// The scheme.
    pub scheme: Scheme,
    /// Host name or IP address (without IPv6 brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Url {
    /// Parses `http(s)://host:port` (a trailing `/` is allowed; paths are not).
    pub fn parse(text: &str) -> Result<Url, String> {
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(format!("URL scheme must be http or https: {text:?}"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = split_host_port(rest)
            .ok_or_else(|| format!("URL address does not have the form \"host:port\": {text:?}"))?;
        if host.is_empty() || host.contains('/') {
            return Err(format!(
                "URL address does not have the form \"host:port\": {text:?}"
            ));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("URL has an invalid port: {text:?}"))?;
        Ok(Url {
            scheme,
            host: host.to_string(),
            port,
        })
    }

    /// Parses a comma-separated list, refusing an empty list and duplicates.
    pub fn parse_list(text: &str, flag: &str) -> Result<Vec<Url>, String> {
        let mut urls: Vec<Url> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let url = Url::parse(part).map_err(|e| format!("--{flag}: {e}"))?;
            if urls.contains(&url) {
                return Err(format!("--{flag}: duplicate URL {part:?}"));
            }
            urls.push(url);
        }
        if urls.is_empty() {
            return Err(format!("--{flag} must not be empty"));
        }
        Ok(urls)
    }

    /// The address to bind or dial: `localhost` is 127.0.0.1; other names are resolved.
    pub fn socket_addr(&self) -> Result<SocketAddr, String> {
        if self.host == "localhost" {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port));
        }
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {self}: {e}"))?
            .next()
            .ok_or_else(|| format!("cannot resolve {self}"))
    }
}

fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host, port));
    }
    text.rsplit_once(':')
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_etcd_urls() {
        let url = Url::parse("https://10.0.0.1:2380").unwrap();
        assert_eq!(
            (url.scheme, url.host.as_str(), url.port),
            (Scheme::Https, "10.0.0.1", 2380)
        );
        assert_eq!(url.to_string(), "https://10.0.0.1:2380");
        let v6 = Url::parse("http://[::1]:2379/").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "http://[::1]:2379");
        assert_eq!(
            Url::parse("http://localhost:2379")
                .unwrap()
                .socket_addr()
                .unwrap()
                .to_string(),
            "127.0.0.1:2379"
        );
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "localhost:2379",
            "unix://x:1",
            "http://host",
            "http://host:99999",
            "http://:1",
            "http://a:1/path",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad} parsed");
        }
        assert!(Url::parse_list("http://a:1,http://a:1", "x").is_err());
        assert!(Url::parse_list(" ", "x").is_err());
    }
}
