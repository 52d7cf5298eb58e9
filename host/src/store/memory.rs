//! The in-memory store: the default, for one process.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use super::sessions::{SessionRecord, SessionStore};
use super::{Scan, TaskStore, cursor};
use crate::types::{Page, Status, StoreError, Task};
use crate::util::{read, write};

/// Tasks in this process's memory, indexed for listing by owner and for expiry.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    sessions: RwLock<HashMap<String, SessionRecord>>,
}

#[derive(Default)]
struct Inner {
    tasks: HashMap<String, Task>,
    /// Per owner, (created_at, id): creation order for `list`.
    by_owner: HashMap<String, BTreeSet<(u64, String)>>,
    /// (expires_at, id) of tasks with a ttl, so `expire` touches only what it deletes.
    by_expiry: BTreeSet<(u64, String)>,
}

fn expires_at(task: &Task) -> Option<u64> {
    task.ttl.map(|ttl| task.created_at.saturating_add(ttl))
}

/// Cursors name the last (created_at, id) a page returned.
impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        read(&self.inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        write(&self.inner)
    }
}

impl Inner {
    fn insert(&mut self, task: Task) {
        self.by_owner
            .entry(task.owner.clone())
            .or_default()
            .insert((task.created_at, task.id.clone()));
        if let Some(at) = expires_at(&task) {
            self.by_expiry.insert((at, task.id.clone()));
        }
        self.tasks.insert(task.id.clone(), task);
    }

    fn remove(&mut self, id: &str) -> Option<Task> {
        let task = self.tasks.remove(id)?;
        if let Some(set) = self.by_owner.get_mut(&task.owner) {
            set.remove(&(task.created_at, task.id.clone()));
            if set.is_empty() {
                self.by_owner.remove(&task.owner);
            }
        }
        if let Some(at) = expires_at(&task) {
            self.by_expiry.remove(&(at, task.id.clone()));
        }
        Some(task)
    }
}

#[async_trait::async_trait]
impl TaskStore for MemoryStore {
    async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        Ok(self.read().tasks.get(id).cloned())
    }

    async fn create(&self, task: Task) -> Result<(), StoreError> {
        let mut inner = self.write();
        if inner.tasks.contains_key(&task.id) {
            return Err(StoreError::AlreadyExists);
        }
        inner.insert(task);
        Ok(())
    }

    async fn update(&self, task: Task, expected_version: u64) -> Result<(), StoreError> {
        let mut inner = self.write();
        let stored = inner.tasks.get(&task.id).ok_or(StoreError::NotFound)?;
        if stored.version != expected_version {
            return Err(StoreError::Conflict(stored.version));
        }
        // Owner, creation time and ttl never change after creation, so the indexes stand;
        // should a caller change them anyway, re-index rather than corrupt the listing.
        if stored.owner != task.owner
            || stored.created_at != task.created_at
            || stored.ttl != task.ttl
        {
            inner.remove(&task.id);
            inner.insert(task);
            return Ok(());
        }
        inner.tasks.insert(task.id.clone(), task);
        Ok(())
    }

    async fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let after = cursor.map(cursor::decode).transpose()?;
        let inner = self.read();
        let Some(keys) = inner.by_owner.get(owner) else {
            return Ok(Page {
                tasks: Vec::new(),
                next_cursor: None,
            });
        };
        let range: Box<dyn Iterator<Item = &(u64, String)>> = match &after {
            Some(after) => Box::new(keys.range(after.clone()..).skip_while(move |k| *k == after)),
            None => Box::new(keys.iter()),
        };
        let mut matching = range
            .filter_map(|(_, id)| inner.tasks.get(id))
            .filter(|t| status.is_none_or(|s| t.status == s));
        let tasks: Vec<Task> = matching.by_ref().take(limit as usize).cloned().collect();
        let next_cursor = match (tasks.last(), matching.next()) {
            (Some(last), Some(_)) => Some(cursor::encode(last)),
            _ => None,
        };
        Ok(Page { tasks, next_cursor })
    }

    async fn scan(
        &self,
        scan: &Scan,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let after = cursor.map(cursor::decode).transpose()?;
        let inner = self.read();
        // An operator's occasional look: every owner's index merged, no index of its own.
        let mut keys: Vec<&(u64, String)> = inner
            .by_owner
            .iter()
            .filter(|(owner, _)| scan.owner.as_ref().is_none_or(|o| o == *owner))
            .flat_map(|(_, keys)| keys.iter())
            .filter(|k| after.as_ref().is_none_or(|a| *k > a))
            .collect();
        keys.sort_unstable();
        let mut matching = keys
            .into_iter()
            .filter_map(|(_, id)| inner.tasks.get(id))
            .filter(|t| scan.selects(t));
        let tasks: Vec<Task> = matching.by_ref().take(limit as usize).cloned().collect();
        let next_cursor = match (tasks.last(), matching.next()) {
            (Some(last), Some(_)) => Some(cursor::encode(last)),
            _ => None,
        };
        Ok(Page { tasks, next_cursor })
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.write()
            .remove(id)
            .map(|_| ())
            .ok_or(StoreError::NotFound)
    }

    async fn expire(&self, now: u64) -> Result<Vec<String>, StoreError> {
        let mut inner = self.write();
        let due: Vec<String> = inner
            .by_expiry
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| id.clone())
            .collect();
        for id in &due {
            inner.remove(id);
        }
        Ok(due)
    }

    async fn abandoned(&self, now: u64, limit: u32) -> Result<Vec<String>, StoreError> {
        // One process holds this store, so its leases lapse only if its sweeps stall: a scan
        // is cheap enough for a case that rare.
        Ok(self
            .read()
            .tasks
            .values()
            .filter(|t| matches!(t.status, Status::Working | Status::InputRequired))
            .filter(|t| t.lease_until.is_some_and(|until| until <= now))
            .map(|t| t.id.clone())
            .take(limit as usize)
            .collect())
    }

    fn reads_locally(&self) -> bool {
        true
    }

    fn outlives_process(&self) -> bool {
        false // Its tasks end with the process.
    }

    fn sessions(&self) -> Option<&dyn SessionStore> {
        Some(self)
    }
}

/// One process holds this store: its sessions are that process's, and nothing is relayed.
#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(read(&self.sessions).get(id).cloned())
    }

    async fn save(&self, session: &SessionRecord) -> Result<(), StoreError> {
        write(&self.sessions).insert(session.id.clone(), session.clone());
        Ok(())
    }

    async fn touch(&self, id: &str, seen_at: u64) -> Result<(), StoreError> {
        if let Some(session) = write(&self.sessions).get_mut(id) {
            session.seen_at = seen_at;
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        write(&self.sessions).remove(id);
        Ok(())
    }

    async fn forget_idle(&self, seen_before: u64) -> Result<u64, StoreError> {
        let mut sessions = write(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, s| s.seen_at >= seen_before);
        Ok((before - sessions.len()) as u64)
    }
}
