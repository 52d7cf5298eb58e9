//! Newline-delimited JSON-RPC over a byte stream (stdio): one reader, one writer.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Outbox;

/// Start the writer task. It writes each message as one line, flushing whenever the queue is
/// empty, and ends once every [`Outbox`] is dropped and the queue is drained.
pub(crate) fn writer<W>(output: W) -> (Outbox, JoinHandle<std::io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let task = tokio::spawn(async move {
        let mut out = BufWriter::new(output);
        while let Some(message) = rx.recv().await {
            out.write_all(message.as_bytes()).await?;
            out.write_all(b"\n").await?;
            // Batch what is already queued into one flush.
            while let Ok(message) = rx.try_recv() {
                out.write_all(message.as_bytes()).await?;
                out.write_all(b"\n").await?;
            }
            out.flush().await?;
        }
        out.flush().await
    });
    (Outbox::new(tx), task)
}

/// Read lines until the end of input or until `stop` completes, handing each non-blank one to
/// `on_line`. A line that is not UTF-8 is answered with a JSON-RPC parse error here, as no JSON
/// can be read from it.
pub(crate) async fn read_lines<R>(
    mut input: R,
    outbox: &Outbox,
    stop: impl Future<Output = std::io::Result<()>>,
    mut on_line: impl FnMut(String),
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
{
    tokio::pin!(stop);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = tokio::select! {
            read = input.read_until(b'\n', &mut buf) => read?,
            stopped = &mut stop => return stopped,
        };
        if read == 0 {
            return Ok(());
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match String::from_utf8(std::mem::take(&mut buf)) {
            Ok(line) => on_line(line),
            Err(_) => outbox.send(
                r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error: the line is not valid UTF-8"}}"#
                    .to_string(),
            ),
        }
    }
}
