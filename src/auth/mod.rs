//! Authentication and URL signing: bearer JWTs (who is calling), HMAC-signed
//! upload URLs (what an upload may write), short-lived tickets (what one
//! browser URL may open), the one-time sign-in link, and the exposure rules
//! (what an instance others can reach must not allow). Pure computation over a
//! secret; the secret itself is loaded by [`crate::store::secrets`].

pub mod exposure;
pub mod jwt;
pub mod link;
pub mod presign;
pub mod ticket;

pub use jwt::{Claims, JwtKeys, Role};
pub use link::SignInLink;
pub use presign::UploadSigner;
pub use ticket::{Ticket, TicketScope, TicketSigner};
