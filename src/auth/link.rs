//! The one-time sign-in link a loopback-only instance prints at start: whoever
//! can read this machine's terminal or log opens it and picks a name, and the
//! page gets a user token (never an admin's). Each link works once; redeeming it
//! makes the next one, which is logged in turn.

use rand::RngCore;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// The current sign-in code.
pub struct SignInLink {
    base: String,
    code: Mutex<String>,
}

fn new_code() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl SignInLink {
    /// A link to the page at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Self {
        SignInLink { base: base.trim_end_matches('/').to_owned(), code: Mutex::new(new_code()) }
    }

    /// The link to open now.
    pub fn url(&self) -> String {
        let code = self.code.lock().map(|c| c.clone()).unwrap_or_default();
        format!("{}/#signin/{code}", self.base)
    }

    /// Whether `code` is the current one (compared in constant time); if so it is
    /// used up and the next link is returned.
    pub fn redeem(&self, code: &str) -> Option<String> {
        let mut current = self.code.lock().ok()?;
        if current.is_empty() || !bool::from(current.as_bytes().ct_eq(code.as_bytes())) {
            return None;
        }
        *current = new_code();
        Some(format!("{}/#signin/{}", self.base, *current))
    }
}

#[cfg(test)]
mod tests {
    use super::SignInLink;

    #[test]
    fn a_link_works_once() {
        let link = SignInLink::new("http://127.0.0.1:8080/");
        let url = link.url();
        let code = url.rsplit('/').next().unwrap().to_owned();
        assert!(url.starts_with("http://127.0.0.1:8080/#signin/") && code.len() == 48, "{url}");
        assert!(link.redeem("wrong").is_none());
        let next = link.redeem(&code).expect("the current code works");
        assert!(link.redeem(&code).is_none(), "only once");
        assert_eq!(next, link.url());
        assert_ne!(next, url);
        assert!(link.redeem("").is_none());
    }
}
