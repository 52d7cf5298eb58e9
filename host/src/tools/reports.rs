//! A run's progress reports and log lines on their way from the tool to the component: in the
//! tool's order, each one delivered while the component keeps up, and bounded when it does not.
//! A tool that reports faster than the component takes its reports (a loop printing a line per
//! item) loses the oldest of those waiting, never the newest: the last report a client sees is
//! the tool's last.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use crate::types::{LogEntry, Report};

/// What a run tells the component besides its questions.
#[derive(Debug, Clone)]
pub(crate) enum Reported {
    /// How far it has come (`router.tool-progress`).
    Progress(Report),
    /// A log line (`router.tool-log`).
    Log(LogEntry),
}

/// How many reports may wait for the component before the oldest is dropped.
pub(crate) const WAITING: usize = 64;

struct Shared {
    waiting: Mutex<Waiting>,
    arrived: Notify,
}

struct Waiting {
    reports: VecDeque<Reported>,
    capacity: usize,
    /// The sender is gone: once `reports` is empty there will be no more.
    closed: bool,
}

/// The tool's end. Dropping it ends the receiver's stream after the reports still waiting.
pub(crate) struct Sender(Arc<Shared>);

/// The component's end.
pub(crate) struct Receiver(Arc<Shared>);

/// A queue for at most `capacity` waiting reports (at least one).
pub(crate) fn channel(capacity: usize) -> (Sender, Receiver) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        waiting: Mutex::new(Waiting {
            reports: VecDeque::with_capacity(capacity),
            capacity,
            closed: false,
        }),
        arrived: Notify::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl Shared {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sender {
    /// Queue a report; if the queue is full, the oldest waiting report makes room.
    pub(crate) fn send(&self, report: Reported) {
        let mut waiting = self.0.waiting();
        if waiting.reports.len() == waiting.capacity {
            waiting.reports.pop_front();
        }
        waiting.reports.push_back(report);
        drop(waiting);
        self.0.arrived.notify_one();
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.waiting().closed = true;
        self.0.arrived.notify_one();
    }
}

impl Receiver {
    /// The next report, in the tool's order; `None` once the sender is gone and none wait.
    pub(crate) async fn recv(&mut self) -> Option<Reported> {
        loop {
            {
                let mut waiting = self.0.waiting();
                if let Some(report) = waiting.reports.pop_front() {
                    return Some(report);
                }
                if waiting.closed {
                    return None;
                }
            }
            // A notification sent between the check above and this wait is kept as a permit.
            self.0.arrived.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(n: u32) -> Reported {
        Reported::Progress(Report {
            progress: Some(f64::from(n)),
            total: None,
            message: None,
        })
    }

    async fn drain(mut rx: Receiver) -> Vec<f64> {
        let mut seen = Vec::new();
        while let Some(r) = rx.recv().await {
            if let Reported::Progress(r) = r {
                seen.extend(r.progress);
            }
        }
        seen
    }

    #[tokio::test]
    async fn every_report_arrives_in_order_while_there_is_room() {
        let (tx, rx) = channel(WAITING);
        for n in 1..=10 {
            tx.send(report(n));
        }
        drop(tx);
        assert_eq!(drain(rx).await, (1..=10).map(f64::from).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_flood_keeps_the_newest_reports_and_the_last() {
        let (tx, rx) = channel(4);
        for n in 1..=1000 {
            tx.send(report(n));
        }
        drop(tx);
        assert_eq!(drain(rx).await, vec![997.0, 998.0, 999.0, 1000.0]);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_each_report_and_for_the_end() {
        let (tx, rx) = channel(WAITING);
        let reader = tokio::spawn(drain(rx));
        for n in 1..=3 {
            tokio::task::yield_now().await;
            tx.send(report(n));
        }
        drop(tx);
        assert_eq!(reader.await.unwrap(), vec![1.0, 2.0, 3.0]);
    }
}
