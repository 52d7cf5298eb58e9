//! The `requestState` of a modern plain call that waits for input (multi round-trip requests):
//! what the server needs to resume the call on the retry, signed so that a client can neither
//! forge nor alter it.
//!
//! The spec treats `requestState` as attacker-controlled input. Here it names a running tool, so
//! its integrity matters: it is `base64url(JSON payload) "." base64url(HMAC-SHA256)`, keyed by the
//! server's secret `state-key`, and the payload binds the owner, the waiting run (which names the original request) and an
//! expiry time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a client has to retry with its answers, in ms.
pub const LIFETIME_MS: u64 = 10 * 60 * 1000;

/// What a `requestState` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestState {
    /// The run token of the waiting tool.
    pub token: String,
    /// Who may resume it.
    pub owner: String,
    /// Until when (ms since the epoch) it may be used.
    pub expires: u64,
    /// The questions still waiting for an answer: key, method, params (JSON text).
    pub questions: Vec<(String, String, String)>,
}

/// Why a `requestState` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// Not one this server signed, or altered since.
    Forged,
    /// Past its expiry.
    Expired,
}

impl RequestState {
    /// The signed text to send as `requestState`.
    pub fn seal(&self, key: &str) -> String {
        let payload = B64.encode(serde_json::to_vec(self).unwrap_or_default());
        let tag = B64.encode(mac(key, payload.as_bytes()).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The state `text` carries, if this server signed it, unaltered, and it has not expired.
    pub fn open(text: &str, key: &str, now: u64) -> Result<Self, StateError> {
        let (payload, tag) = text.split_once('.').ok_or(StateError::Forged)?;
        let tag = B64.decode(tag).map_err(|_| StateError::Forged)?;
        mac(key, payload.as_bytes())
            .verify_slice(&tag)
            .map_err(|_| StateError::Forged)?;
        let bytes = B64.decode(payload).map_err(|_| StateError::Forged)?;
        let state: RequestState = serde_json::from_slice(&bytes).map_err(|_| StateError::Forged)?;
        if state.expires <= now {
            return Err(StateError::Expired);
        }
        Ok(state)
    }
}

fn mac(key: &str, data: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(data);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> RequestState {
        RequestState {
            token: "call:e--:1".into(),
            owner: "alice".into(),
            expires: 2_000,
            questions: vec![("confirm".into(), "elicitation/create".into(), "{}".into())],
        }
    }

    #[test]
    fn a_sealed_state_opens_with_the_same_key_only() {
        let sealed = state().seal("k1");
        assert_eq!(RequestState::open(&sealed, "k1", 1_000), Ok(state()));
        assert_eq!(
            RequestState::open(&sealed, "k2", 1_000),
            Err(StateError::Forged)
        );
        assert_eq!(
            RequestState::open(&sealed, "k1", 2_000),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn an_altered_state_is_refused() {
        let sealed = state().seal("k1");
        let (payload, tag) = sealed.split_once('.').unwrap();
        let mut forged = state();
        forged.owner = "mallory".into();
        let forged_payload = B64.encode(serde_json::to_vec(&forged).unwrap());
        for bad in [
            format!("{forged_payload}.{tag}"),
            format!("{payload}x.{tag}"),
            payload.to_string(),
            String::new(),
            "..".into(),
        ] {
            assert_eq!(
                RequestState::open(&bad, "k1", 1_000),
                Err(StateError::Forged),
                "{bad}"
            );
        }
    }
}
