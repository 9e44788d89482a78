//! The host part of a URL: one `host:port` or several (the nodes of a
//! cluster), IPv6 literals in brackets, port 3306 unless given.

/// The hint for a URL whose password (or user name) holds a character that
/// ends its part of the URL.
pub(super) const ENCODE_HINT: &str = "if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)";

/// One host of a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Host name or IP address (an IPv6 address without its brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `h1:3306,[::1]:3307,h3` as nodes (port 3306 unless given). `quote`:
/// whether a message may quote the host part back.
/// (Or why not, in words, for the URL's error.)
pub(super) fn parse_hosts(hosts: &str, quote: bool) -> Result<Vec<Node>, String> {
    let q = |s: &str| {
        if quote {
            format!("`{s}`")
        } else {
            "the host part".to_string()
        }
    };
    if hosts.is_empty() {
        return Ok(vec![Node {
            host: "localhost".into(),
            port: 3306,
        }]);
    }
    let mut nodes = Vec::new();
    for spec in hosts.split(',') {
        let (host, port) = if let Some(v6) = spec.strip_prefix('[') {
            let Some((addr, after)) = v6.split_once(']') else {
                return Err(format!(
                    "{}: an IPv6 address needs its closing `]`",
                    q(spec)
                ));
            };
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("{} is not an IPv6 address", q(addr)));
            }
            match after {
                "" => (addr, None),
                p if p.starts_with(':') => (addr, Some(&p[1..])),
                _ => return Err(format!("{}: expected [address]:port", q(spec))),
            }
        } else {
            match spec.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (spec, None),
            }
        };
        let port = match port {
            None => 3306,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                match quote {
                    true => format!("invalid port `{p}` in `{spec}`; {ENCODE_HINT}"),
                    false => format!("invalid port in the host part, or a password without `@host`; {ENCODE_HINT}"),
                }
            })?,
        };
        let valid = !host.is_empty()
            && (host.contains(':')
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
        if !valid {
            return Err(format!("invalid host {}; {ENCODE_HINT}", q(host)));
        }
        nodes.push(Node {
            host: host.to_string(),
            port,
        });
    }
    Ok(nodes)
}
