//! Whether an instance can be reached from other machines, and the rules that
//! follow from it: sign-in by name only on a loopback-only instance, and no weak
//! or placeholder secret on one that others can reach. Pure: the caller passes
//! the addresses and secrets it was configured with.

use std::net::{IpAddr, SocketAddr};

/// Secrets shorter than this many bytes are refused outside loopback.
pub const MIN_SECRET_BYTES: usize = 32;

/// Parts of the shipped placeholders (`deploy/env.example`, the docs): a secret
/// containing one was never replaced.
const PLACEHOLDERS: &[&str] = &["change-me", "changeme", "replace-me", "your-secret", "example-secret"];

/// Why the configuration may not serve as it is.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExposureError {
    #[error(
        "[auth] dev_sign_in gives anyone who reaches the service a token; it works only when the service is \
         reachable from this machine alone, but {0}. Turn it off (ORAK_AUTH__DEV_SIGN_IN=false) and sign in \
         with tokens from `orakgaraki token --user NAME`"
    )]
    DevSignInExposed(String),
    #[error(
        "{setting} is too weak for a service others can reach ({why}); use at least {MIN_SECRET_BYTES} random \
         bytes, e.g. `openssl rand -hex 32`"
    )]
    WeakSecret { setting: &'static str, why: String },
}

/// Whether an address names this machine only.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Whether a public URL's host is this machine (`localhost`, `127.x`, `[::1]`);
/// an empty URL means "the bound address", which the bind check covers.
pub fn is_loopback_url(url: &str) -> bool {
    if url.is_empty() {
        return true;
    }
    let Some((_, rest)) = url.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| is_loopback(&SocketAddr::new(ip, 0)))
}

/// What makes an instance reachable from elsewhere, in words; `None` when it
/// is not. `binds` are every address it listens on; `public_url` is where
/// clients are told to reach it (a proxy in front makes a loopback bind public);
/// `trusted_proxies` non-empty says the same.
pub fn exposure(binds: &[SocketAddr], public_url: &str, trusted_proxies: &[String]) -> Option<String> {
    if let Some(open) = binds.iter().find(|a| !is_loopback(a)) {
        return Some(format!("it listens on {open}"));
    }
    if !is_loopback_url(public_url) {
        return Some(format!("server.public_url is {public_url}"));
    }
    if !trusted_proxies.is_empty() {
        return Some("rate_limit.trusted_proxies names a proxy in front of it".to_owned());
    }
    None
}

/// Why `secret` is weak, if it is: too short, or a placeholder left in.
pub fn weakness(secret: &str) -> Option<String> {
    let lower = secret.to_ascii_lowercase();
    if let Some(p) = PLACEHOLDERS.iter().find(|p| lower.contains(*p)) {
        return Some(format!("it contains the placeholder {p:?}"));
    }
    if secret.len() < MIN_SECRET_BYTES {
        return Some(format!("{} bytes, under {MIN_SECRET_BYTES}", secret.len()));
    }
    None
}

/// The checks for one configuration: `secrets` are `(setting, value)` pairs,
/// empty values skipped (an empty JWT secret is generated at random; an empty
/// webhook secret turns the webhooks off).
pub fn check(
    binds: &[SocketAddr],
    public_url: &str,
    trusted_proxies: &[String],
    dev_sign_in: bool,
    secrets: &[(&'static str, &str)],
) -> Result<(), ExposureError> {
    let Some(exposed) = exposure(binds, public_url, trusted_proxies) else { return Ok(()) };
    if dev_sign_in {
        return Err(ExposureError::DevSignInExposed(exposed));
    }
    for (setting, value) in secrets.iter().filter(|(_, v)| !v.is_empty()) {
        if let Some(why) = weakness(value) {
            return Err(ExposureError::WeakSecret { setting, why });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const STRONG: &str = "9f2c0a6e4b1d8f3a7c5e2b9d0f6a4c8e";

    #[test]
    fn loopback_is_recognised_in_every_spelling() {
        assert!(is_loopback(&a("127.0.0.1:8080")) && is_loopback(&a("127.8.9.1:1")) && is_loopback(&a("[::1]:80")));
        assert!(is_loopback(&a("[::ffff:127.0.0.1]:80")));
        assert!(!is_loopback(&a("0.0.0.0:8080")) && !is_loopback(&a("[::]:8080")) && !is_loopback(&a("10.0.0.5:1")));
        for url in ["", "http://localhost:8080", "http://127.0.0.1:9/x", "https://[::1]/", "http://u:p@LOCALHOST"] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in ["https://orak.example", "http://192.168.1.4:8080", "http://[2001:db8::1]:80/", "nonsense"] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn dev_sign_in_needs_every_door_to_be_loopback() {
        let local = [a("127.0.0.1:8080")];
        assert_eq!(check(&local, "", &[], true, &[]), Ok(()));
        let err = check(&[a("0.0.0.0:8080")], "", &[], true, &[]).unwrap_err();
        assert!(err.to_string().contains("0.0.0.0:8080") && err.to_string().contains("dev_sign_in"), "{err}");
        // A metrics address counts as a door too; so does a proxy in front.
        assert!(check(&[a("127.0.0.1:1"), a("0.0.0.0:9464")], "", &[], true, &[]).is_err());
        assert!(check(&local, "https://orak.example", &[], true, &[]).is_err());
        assert!(check(&local, "", &["127.0.0.1/32".into()], true, &[]).is_err());
    }

    #[test]
    fn weak_secrets_refuse_only_outside_loopback() {
        let open = [a("0.0.0.0:8080")];
        let err = check(&open, "", &[], false, &[("auth.jwt_secret", "short")]).unwrap_err();
        assert!(err.to_string().contains("auth.jwt_secret") && err.to_string().contains("5 bytes"), "{err}");
        let shipped = "change-me-a-long-random-jwt-secret";
        let err = check(&open, "", &[], false, &[("auth.jwt_secret", STRONG), ("webhooks.secret", shipped)]);
        assert!(matches!(err, Err(ExposureError::WeakSecret { setting: "webhooks.secret", .. })), "{err:?}");
        assert_eq!(check(&open, "", &[], false, &[("auth.jwt_secret", STRONG), ("webhooks.secret", "")]), Ok(()));
        // On one machine a short secret is the owner's business.
        assert_eq!(check(&[a("127.0.0.1:8080")], "", &[], false, &[("auth.jwt_secret", "short")]), Ok(()));
    }
}
