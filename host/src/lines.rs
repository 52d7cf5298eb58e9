//! Newline-delimited input read with a bound on a line's length: a peer that never sends a newline
//! (a client on stdin, a tool on stderr) cannot make the reader hold more than the bound.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line is in the buffer, without its `\n` (or `\r\n`).
    Complete,
    /// A line of this many bytes (its newline not counted) was longer than the bound: it was read
    /// to its end and dropped, and the buffer is empty.
    TooLong(usize),
    /// The input ended.
    End,
}

/// Read the next line into `buf` (cleared first), holding at most `max` bytes of it. A last line
/// without a newline counts as a line.
pub(crate) async fn read_line<R>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line>
where
    R: AsyncBufRead + Unpin,
{
    buf.clear();
    let mut length = 0usize;
    let mut over = false;
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (length, over) {
                (0, _) => Line::End,
                (n, true) => Line::TooLong(n),
                (_, false) => Line::Complete,
            });
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let taken = newline.map_or(available.len(), |i| i + 1);
        let content = &available[..newline.unwrap_or(taken)];
        length += content.len();
        if !over && length > max {
            over = true;
            // Give back what the line held so far: it will not be used.
            *buf = Vec::new();
        }
        if !over {
            buf.extend_from_slice(content);
        }
        input.consume(taken);
        if newline.is_some() {
            if over {
                return Ok(Line::TooLong(length));
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Line::Complete);
        }
    }
}

/// What the property tests and the fuzz target hold `read_line` to: any input reads as the lines
/// `split` gives, each kept whole within the bound and dropped (its length told) beyond it.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod oracle {
    use super::*;

    /// What `read_line` must find in `input`: its lines as `split` gives them.
    pub(crate) fn reference(input: &[u8], max: usize) -> Vec<Result<String, usize>> {
        let mut pieces: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
        let last = pieces.len() - 1;
        if pieces[last].is_empty() {
            pieces.pop(); // A final newline ends the last line; it starts none.
        }
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, p)| match p.len() > max {
                true => Err(p.len()),
                // A `\r` ends a line only before its `\n`.
                false if i < last => {
                    Ok(String::from_utf8_lossy(p.strip_suffix(b"\r").unwrap_or(p)).into())
                }
                false => Ok(String::from_utf8_lossy(p).into()),
            })
            .collect()
    }

    /// The lines `read_line` reads from `input` through a buffer of `chunk` bytes (so that lines
    /// cross its boundaries), as text.
    pub(crate) async fn lines_lossy(
        input: &[u8],
        max: usize,
        chunk: usize,
    ) -> Vec<Result<String, usize>> {
        let mut reader = tokio::io::BufReader::with_capacity(chunk, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let line = read_line(&mut reader, &mut buf, max).await;
            match line.expect("reading a slice never fails") {
                Line::Complete => out.push(Ok(String::from_utf8_lossy(&buf).into())),
                Line::TooLong(n) => out.push(Err(n)),
                Line::End => return out,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize, chunk: usize) -> Vec<Result<String, usize>> {
        // A buffer of `chunk` bytes, so that lines cross its boundaries.
        let mut reader = tokio::io::BufReader::with_capacity(chunk, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            match read_line(&mut reader, &mut buf, max).await.unwrap() {
                Line::Complete => out.push(Ok(String::from_utf8(buf.clone()).unwrap())),
                Line::TooLong(n) => out.push(Err(n)),
                Line::End => return out,
            }
        }
    }

    #[tokio::test]
    async fn lines_within_the_bound_are_read_whole_and_longer_ones_are_dropped() {
        for chunk in [1, 3, 7, 64] {
            let got = lines(b"abc\r\nhello world\n\nxyz\nlast", 5, chunk).await;
            assert_eq!(
                got,
                vec![
                    Ok("abc".into()),
                    Err(11),
                    Ok("".into()),
                    Ok("xyz".into()),
                    Ok("last".into())
                ],
                "chunk {chunk}"
            );
        }
    }

    proptest::proptest! {
        /// Any bytes, any bound, any buffer size: the lines of `split`, each kept whole within
        /// the bound and dropped (its length told) beyond it.
        #[test]
        fn any_input_reads_as_its_lines(
            input in proptest::collection::vec(
                proptest::prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), proptest::num::u8::ANY],
                0..400,
            ),
            max in 0usize..64,
            chunk in 1usize..32,
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            proptest::prop_assert_eq!(
                runtime.block_on(oracle::lines_lossy(&input, max, chunk)),
                oracle::reference(&input, max)
            );
        }
    }

    use proptest::strategy::Just;
    #[tokio::test]
    async fn a_last_line_that_is_too_long_is_reported_and_the_bound_is_exact() {
        assert_eq!(
            lines(b"12345\n123456", 5, 4).await,
            vec![Ok("12345".into()), Err(6)]
        );
    }
}
