//! Reads of single tasks gathered into batches, for the backends where each read is a round trip
//! (a blocking thread for SQLite, the network for PostgreSQL).
//!
//! Pipelined `tasks/get`s reach the store as many concurrent `get`s, one per component call.
//! Each joins a queue; whoever holds one of a few turns takes everything queued and fetches it in
//! one round trip. With nothing else in flight a read goes at once, alone: batching adds no
//! latency, it only gathers the reads that would otherwise wait for a connection or a thread.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use tokio::sync::{Semaphore, oneshot};

use crate::types::{StoreError, Task};

/// The most reads one round trip carries.
const MAX_BATCH: usize = 256;

type Answer = Result<Option<Task>, StoreError>;

struct Waiter {
    id: String,
    answer: oneshot::Sender<Answer>,
}

/// The queue of single-task reads waiting for a round trip.
pub(crate) struct Reads {
    waiting: Mutex<Vec<Waiter>>,
    turns: Semaphore,
}

impl Reads {
    /// Reads with at most `round_trips` batches in flight at once.
    pub(crate) fn new(round_trips: usize) -> Self {
        Self {
            waiting: Mutex::new(Vec::new()),
            turns: Semaphore::new(round_trips.max(1)),
        }
    }

    /// The task `id`, read in a batch by `fetch`, which returns the tasks it found among the IDs
    /// it is given (each once; in any order; the missing ones are absent).
    pub(crate) async fn get<F, Fut>(&self, id: &str, fetch: F) -> Answer
    where
        F: Fn(Vec<String>) -> Fut,
        Fut: Future<Output = Result<Vec<Task>, StoreError>>,
    {
        let mut answer = self.join(id);
        loop {
            tokio::select! {
                biased;
                got = &mut answer => match got {
                    Ok(got) => return got,
                    // The batch that took this read was dropped before it answered (its caller
                    // went away mid-read): queue it again.
                    Err(_) => answer = self.join(id),
                },
                turn = self.turns.acquire() => {
                    // The semaphore is never closed.
                    let Ok(_turn) = turn else { continue };
                    let batch = self.take();
                    if batch.is_empty() {
                        // Another batch took this read: its answer is on the way.
                        drop(_turn);
                        return (&mut answer).await.unwrap_or_else(|_| {
                            Err(StoreError::Unavailable("a batched read was abandoned".into()))
                        });
                    }
                    // Each task once, however many wait for it (pipelined polls of one task).
                    let mut ids: Vec<String> = batch.iter().map(|w| w.id.clone()).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    let fetched = fetch(ids).await;
                    drop(_turn);
                    answer_all(batch, fetched);
                }
            }
        }
    }

    fn join(&self, id: &str) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Waiter {
                id: id.to_owned(),
                answer: tx,
            });
        rx
    }

    /// The oldest waiting reads, up to [`MAX_BATCH`].
    fn take(&self) -> Vec<Waiter> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let n = waiting.len().min(MAX_BATCH);
        waiting.drain(..n).collect()
    }
}

fn answer_all(batch: Vec<Waiter>, fetched: Result<Vec<Task>, StoreError>) {
    match fetched {
        Ok(tasks) => {
            let tasks: HashMap<&str, &Task> = tasks.iter().map(|t| (t.id.as_str(), t)).collect();
            for waiter in batch {
                let task = tasks.get(waiter.id.as_str()).map(|t| (*t).clone());
                // A reader that went away does not need its answer.
                let _ = waiter.answer.send(Ok(task));
            }
        }
        Err(e) => {
            for waiter in batch {
                let _ = waiter.answer.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn task(id: &str) -> Task {
        crate::fixtures::task(id, "owner", 1)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reads_share_round_trips_and_each_gets_its_own_task() {
        let reads = Arc::new(Reads::new(1));
        let trips = Arc::new(AtomicUsize::new(0));
        let mut readers = tokio::task::JoinSet::new();
        for n in 0..200 {
            let (reads, trips) = (reads.clone(), trips.clone());
            readers.spawn(async move {
                // Each ID read by two readers at once.
                let id = format!("t{}", n / 2);
                let got = reads
                    .get(&id, |ids| {
                        let trips = trips.clone();
                        async move {
                            trips.fetch_add(1, Ordering::Relaxed);
                            let mut distinct = ids.clone();
                            distinct.sort();
                            distinct.dedup();
                            assert_eq!(distinct.len(), ids.len(), "asked twice: {ids:?}");
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                            // Odd IDs are not stored.
                            Ok(ids
                                .iter()
                                .filter(|id| id[1..].parse::<u32>().is_ok_and(|n| n % 2 == 0))
                                .map(|id| task(id))
                                .collect())
                        }
                    })
                    .await;
                (n, got)
            });
        }
        while let Some(joined) = readers.join_next().await {
            let (n, got) = joined.unwrap();
            let got = got.unwrap();
            let id = n / 2;
            assert_eq!(got.map(|t| t.id), (id % 2 == 0).then(|| format!("t{id}")));
        }
        let trips = trips.load(Ordering::Relaxed);
        assert!(trips < 200, "{trips} round trips for 200 concurrent reads");
    }

    #[tokio::test]
    async fn a_failed_round_trip_fails_each_read_in_it() {
        let reads = Reads::new(1);
        let got = reads
            .get("t1", |_| async {
                Err(StoreError::Unavailable("the database is away".into()))
            })
            .await;
        assert_eq!(
            got,
            Err(StoreError::Unavailable("the database is away".into()))
        );
    }
}
