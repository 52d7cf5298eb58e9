//! Who is calling: the owner of an HTTP request's tasks, from its `Authorization: Bearer` token.
//!
//! The server is an OAuth 2.1 resource server as the MCP authorization spec describes: it checks
//! tokens it did not issue, either against a tokens file (SHA-256 hashes of opaque tokens mapped
//! to owners) or as JWTs from one issuer (signature by a key of its JWKS, issuer, audience,
//! expiry). Without either, every caller is the one configured owner.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Why a token file, a JWKS or a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request carried no bearer token.
    #[error("this server needs an Authorization: Bearer token")]
    Missing,
    /// The token is not one this server accepts.
    #[error("the bearer token is not valid: {0}")]
    Invalid(String),
    /// The tokens file or the JWKS could not be read.
    #[error("{0}")]
    Config(String),
}

/// Where the JWT signing keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A JWKS document on disk, read at start.
    File(PathBuf),
    /// A JWKS URL, fetched at start and again when a token names a key not seen yet (at most
    /// once a minute) or every ten minutes.
    Url(String),
}

impl JwksSource {
    /// `http://…` and `https://…` are URLs; anything else is a file.
    pub fn parse(s: &str) -> Self {
        if s.starts_with("https://") || s.starts_with("http://") {
            Self::Url(s.to_string())
        } else {
            Self::File(PathBuf::from(s))
        }
    }
}

/// How JWTs are checked.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The `iss` every token must carry: the authorization server.
    pub issuer: String,
    /// The `aud` every token must carry: this resource.
    pub audience: String,
    /// The keys that sign tokens.
    pub jwks: JwksSource,
}

/// The callers this server knows.
pub(crate) struct Authenticator {
    tokens: Option<HashMap<[u8; 32], String>>,
    jwt: Option<Jwt>,
    anonymous: Option<String>,
}

/// How JWT checks went: the keys, and when they were last fetched.
struct Jwt {
    config: JwtConfig,
    keys: RwLock<(JwkSet, Instant)>,
    http: reqwest::Client,
}

/// The claims an owner is taken from.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    client_id: Option<String>,
}

const JWKS_REFRESH: Duration = Duration::from_secs(600);
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(60);

impl Authenticator {
    /// Every caller is `owner`: no authentication.
    pub(crate) fn anonymous(owner: String) -> Self {
        Self {
            tokens: None,
            jwt: None,
            anonymous: Some(owner),
        }
    }

    /// Check bearer tokens against a tokens file, JWTs, or both.
    pub(crate) async fn new(
        tokens_file: Option<&Path>,
        jwt: Option<JwtConfig>,
    ) -> Result<Self, AuthError> {
        let tokens = tokens_file.map(read_tokens_file).transpose()?;
        let jwt = match jwt {
            Some(config) => {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| AuthError::Config(format!("cannot make an HTTP client: {e}")))?;
                let keys = fetch_jwks(&http, &config.jwks).await?;
                Some(Jwt {
                    config,
                    keys: RwLock::new((keys, Instant::now())),
                    http,
                })
            }
            None => None,
        };
        Ok(Self {
            tokens,
            jwt,
            anonymous: None,
        })
    }

    /// Whether callers must present a token.
    pub(crate) fn required(&self) -> bool {
        self.anonymous.is_none()
    }

    /// The issuer tokens come from, for the protected resource metadata.
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.jwt.as_ref().map(|j| j.config.issuer.as_str())
    }

    /// The owner a request acts for, from its `Authorization` header.
    pub(crate) async fn owner(&self, authorization: Option<&str>) -> Result<String, AuthError> {
        if let Some(owner) = &self.anonymous {
            return Ok(owner.clone());
        }
        let token = authorization
            .and_then(|h| {
                let (scheme, token) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        if let Some(owner) = self
            .tokens
            .as_ref()
            .and_then(|t| t.get(&<[u8; 32]>::from(Sha256::digest(token.as_bytes()))))
        {
            return Ok(owner.clone());
        }
        match &self.jwt {
            Some(jwt) => jwt.owner(token).await,
            None => Err(AuthError::Invalid("unknown token".into())),
        }
    }
}

impl Jwt {
    async fn owner(&self, token: &str) -> Result<String, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| AuthError::Invalid(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        let jwk = match self.key(header.kid.as_deref()) {
            Some(jwk) => jwk,
            None => {
                self.refetch_if_due(false).await;
                self.key(header.kid.as_deref())
                    .ok_or_else(|| AuthError::Invalid("no key of the issuer signed it".into()))?
            }
        };
        // The key decides the algorithm, not the token: a token cannot choose HMAC with a
        // public key as its secret.
        if let Some(alg) = jwk.common.key_algorithm
            && format!("{alg:?}") != format!("{:?}", header.alg)
        {
            return Err(AuthError::Invalid(
                "signed with another algorithm than its key's".into(),
            ));
        }
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(AuthError::Invalid(
                "HMAC-signed tokens are not accepted".into(),
            ));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(invalid)?
            .claims;
        claims
            .sub
            .or(claims.client_id)
            .filter(|o| !o.is_empty())
            .ok_or_else(|| AuthError::Invalid("it names no subject (sub or client_id)".into()))
    }

    fn key(&self, kid: Option<&str>) -> Option<Jwk> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        match kid {
            Some(kid) => keys.0.find(kid).cloned(),
            // A token without `kid` is accepted only where the set has one key.
            None if keys.0.keys.len() == 1 => keys.0.keys.first().cloned(),
            None => None,
        }
    }

    /// Fetch the JWKS again if it comes from a URL and was not fetched too recently (or, with
    /// `periodic`, is older than the refresh period).
    async fn refetch_if_due(&self, periodic: bool) {
        let JwksSource::Url(_) = &self.config.jwks else {
            return;
        };
        let age = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .elapsed();
        let due = if periodic {
            JWKS_REFRESH
        } else {
            JWKS_MIN_REFETCH
        };
        if age < due {
            return;
        }
        match fetch_jwks(&self.http, &self.config.jwks).await {
            Ok(keys) => {
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = (keys, Instant::now())
            }
            Err(e) => tracing::warn!("keeping the JWKS fetched before: {e}"),
        }
    }
}

impl Authenticator {
    /// Fetch the JWKS again when it is old; called now and then by the server.
    pub(crate) async fn refresh(&self) {
        if let Some(jwt) = &self.jwt {
            jwt.refetch_if_due(true).await;
        }
    }
}

async fn fetch_jwks(http: &reqwest::Client, source: &JwksSource) -> Result<JwkSet, AuthError> {
    let text = match source {
        JwksSource::File(path) => std::fs::read_to_string(path)
            .map_err(|e| AuthError::Config(format!("cannot read JWKS {}: {e}", path.display())))?,
        JwksSource::Url(url) => {
            let fetch = async { http.get(url).send().await?.error_for_status()?.text().await };
            fetch
                .await
                .map_err(|e| AuthError::Config(format!("cannot fetch JWKS {url}: {e}")))?
        }
    };
    serde_json::from_str(&text)
        .map_err(|e| AuthError::Config(format!("the JWKS is not valid: {e}")))
}

/// A tokens file: TOML whose `[tokens]` table maps the hex SHA-256 of each token to its owner.
/// Only hashes are kept, so the file gives no token away.
fn read_tokens_file(path: &Path) -> Result<HashMap<[u8; 32], String>, AuthError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TokensFile {
        tokens: HashMap<String, String>,
    }
    let config = |m: String| AuthError::Config(format!("tokens file {}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| config(e.to_string()))?;
    let file: TokensFile = toml::from_str(&text).map_err(|e| config(e.to_string()))?;
    let mut tokens = HashMap::with_capacity(file.tokens.len());
    for (hash, owner) in file.tokens {
        let digest = hash_from_hex(hash.strip_prefix("sha256:").unwrap_or(&hash))
            .ok_or_else(|| config(format!("\"{hash}\" is not a hex SHA-256 (64 hex digits)")))?;
        if owner.is_empty() {
            return Err(config(format!("the owner of \"{hash}\" is empty")));
        }
        tokens.insert(digest, owner);
    }
    Ok(tokens)
}

fn hash_from_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The hex SHA-256 of a token, as a tokens file lists it.
pub fn token_hash(token: &str) -> String {
    crate::cache::hex(&Sha256::digest(token.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_through_hex() {
        let hex = token_hash("secret");
        assert_eq!(
            hex,
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        );
        assert_eq!(
            hash_from_hex(&hex),
            Some(<[u8; 32]>::from(Sha256::digest(b"secret")))
        );
        assert_eq!(hash_from_hex("zz"), None);
        assert_eq!(hash_from_hex(&"g".repeat(64)), None);
    }
}
