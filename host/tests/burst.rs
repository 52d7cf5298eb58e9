//! A burst of pipelined requests against a store that makes calls wait (every `tasks/get`
//! awaits SQLite on a worker thread) is answered in full: the server bounds the calls in the
//! component rather than making an instance, with its gigabytes of reserved address space, for
//! each waiting request.

use std::sync::Arc;

use mcp_tasks::store::SqliteStore;
use mcp_tasks::{Server, TaskStore};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const BURST: usize = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_on_the_file_store_is_answered_in_full() {
    let dir = std::env::temp_dir().join(format!("mcp-tasks-burst-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn TaskStore> = Arc::new(SqliteStore::open(dir.join("tasks.db")).unwrap());
    let server = Server::builder()
        .owner("burst")
        .store(store)
        .build()
        .unwrap();

    let (client, server_end) = tokio::io::duplex(1 << 20);
    let (server_in, server_out) = tokio::io::split(server_end);
    let serving =
        tokio::spawn(async move { server.serve(BufReader::new(server_in), server_out).await });
    let (client_in, mut client_out) = tokio::io::split(client);

    // Unknown task IDs still make every call read the store.
    let line = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"none\"}}\n";
    let writer = tokio::spawn(async move {
        client_out
            .write_all(line.repeat(BURST).as_bytes())
            .await
            .unwrap();
        // The end of input: the server answers what it read, then returns.
        client_out.shutdown().await.unwrap();
    });
    let mut lines = BufReader::new(client_in).lines();
    // Not a speed limit: a guard, so that a server that stalls fails the test instead of
    // hanging it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    for n in 0..BURST {
        let answer = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("stalled after {n} answers"))
            .unwrap()
            .unwrap_or_else(|| panic!("closed after {n}"));
        assert!(answer.contains("Task not found"), "answer {n}: {answer}");
    }
    writer.await.unwrap();
    serving.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
