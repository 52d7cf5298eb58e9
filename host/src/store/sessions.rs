//! Where 2025-11-25 HTTP sessions live when a store keeps them ([`SessionStore`]), so that any
//! host sharing the store serves a session, and how a message for a session's stream reaches the
//! host that holds the stream ([`Relayed`]).

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::types::{MessageKind, Outgoing, StoreError};

/// One 2025-11-25 session as kept in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Its `Mcp-Session-Id`: a random UUID, never guessable.
    pub id: String,
    /// Who opened it: every request naming it must come from the same owner.
    pub owner: String,
    /// The component's state for it (`context.session`: the negotiated version, the client's
    /// capabilities, the log level), as the component last set it.
    pub state: String,
    /// When a request last named it, in milliseconds since the Unix epoch.
    pub seen_at: u64,
}

/// A message for a session's stream, on its way to whichever host holds that stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relayed {
    /// The session's ID.
    #[serde(rename = "s")]
    pub session: String,
    /// Whether the message is a request (a task's question) rather than a notification.
    #[serde(rename = "r", default, skip_serializing_if = "std::ops::Not::not")]
    pub request: bool,
    /// The JSON-RPC message.
    #[serde(rename = "m")]
    pub message: String,
}

impl Relayed {
    /// The message, as a stream writes it.
    pub(crate) fn outgoing(self) -> Outgoing {
        Outgoing {
            message: self.message,
            kind: match self.request {
                true => MessageKind::Request,
                false => MessageKind::Notification,
            },
            answers: None,
            http_status: 200,
            method: None,
            era: None,
            is_error: false,
        }
    }
}

/// Sessions kept in a store that hosts share: the store a [`TaskStore`](super::TaskStore) offers
/// through [`TaskStore::sessions`](super::TaskStore::sessions).
///
/// `save` replaces a session whole; `touch` and `delete` of a session that is not there do
/// nothing; `forget_idle` deletes exactly the sessions with `seen_at < seen_before`.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// The session with this ID, if any (whoever owns it).
    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Keep this session, replacing any with its ID.
    async fn save(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// Note that a request named the session at `seen_at`.
    async fn touch(&self, id: &str, seen_at: u64) -> Result<(), StoreError>;
    /// Forget the session.
    async fn delete(&self, id: &str) -> Result<(), StoreError>;
    /// Forget every session last seen before `seen_before`; how many.
    async fn forget_idle(&self, seen_before: u64) -> Result<u64, StoreError>;

    /// A feed of the messages any host sharing the store relays (this one's too), if the store
    /// carries messages between hosts; `None` if it does not (the hosts that share it, if any,
    /// then each reach only the streams they hold).
    async fn listen(&self) -> Result<Option<mpsc::Receiver<Relayed>>, StoreError> {
        Ok(None)
    }
    /// Carry a message to every host that [`listen`](Self::listen)s. Called only where `listen`
    /// gave a feed.
    async fn relay(&self, _message: &Relayed) -> Result<(), StoreError> {
        Ok(())
    }
}
