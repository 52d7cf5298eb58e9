//! Who may call a served address: the flags `serve --http` and `admin --http` share.

use std::net::SocketAddr;
use std::path::PathBuf;

use mcp_tasks::transport::http::{HttpOptions, JwksSource, JwtConfig};

/// Who may call, and from where.
#[derive(clap::Args)]
pub(crate) struct AccessArgs {
    /// Also accept requests whose Origin header is this (e.g. https://app.example.com); loopback
    /// origins are always accepted. Repeatable.
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    allow_origin: Vec<String>,
    /// Also accept this Host header while bound to loopback (loopback names always are).
    /// Repeatable.
    #[arg(long, value_name = "HOST", requires = "http")]
    allow_host: Vec<String>,
    /// Authenticate callers by bearer token: a TOML file whose [tokens] table maps each token's
    /// hex SHA-256 (see `mcp-tasks token-hash`) to its owner.
    #[arg(long, value_name = "FILE", requires = "http")]
    auth_tokens: Option<PathBuf>,
    /// Authenticate callers by JWTs from this issuer (the `iss` they must carry); the owner is
    /// the token's `sub`, else its `client_id`.
    #[arg(long, value_name = "URL", requires_all = ["http", "jwks"])]
    jwt_issuer: Option<String>,
    /// The `aud` JWTs must carry [default: the public URL].
    #[arg(long, value_name = "AUDIENCE", requires = "jwt_issuer")]
    jwt_audience: Option<String>,
    /// The issuer's signing keys: a JWKS file, or an http(s) URL fetched at start and refreshed.
    #[arg(long, value_name = "FILE|URL", requires = "jwt_issuer")]
    jwks: Option<String>,
}

impl AccessArgs {
    /// Whether callers must authenticate.
    pub(crate) fn authenticates(&self) -> bool {
        self.auth_tokens.is_some() || self.jwt_issuer.is_some()
    }

    /// Serving `addr` is refused unless it is loopback or callers authenticate.
    pub(crate) fn check(&self, addr: SocketAddr) -> anyhow::Result<()> {
        anyhow::ensure!(
            addr.ip().is_loopback() || self.authenticates(),
            "--http {addr} is not a loopback address: anyone who reaches it could use this \
             server, so give --auth-tokens or --jwt-issuer (or bind 127.0.0.1)"
        );
        Ok(())
    }

    /// The options of a server whose resource is `public_url`, with these checks.
    pub(crate) fn options(&self, public_url: String) -> HttpOptions {
        HttpOptions {
            public_url: Some(public_url.clone()),
            allowed_origins: self.allow_origin.clone(),
            allowed_hosts: self.allow_host.clone(),
            tokens_file: self.auth_tokens.clone(),
            jwt: match (&self.jwt_issuer, &self.jwks) {
                (Some(issuer), Some(jwks)) => Some(JwtConfig {
                    issuer: issuer.clone(),
                    audience: self.jwt_audience.clone().unwrap_or(public_url),
                    jwks: JwksSource::parse(jwks),
                }),
                _ => None,
            },
            ..HttpOptions::default()
        }
    }
}
