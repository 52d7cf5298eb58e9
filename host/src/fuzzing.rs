//! Entry points for coverage-guided fuzzing (the feature `fuzzing`; the targets that call them are
//! in `fuzz/`, run with `cargo fuzz` on stable Rust, see docs/reliability.md). Each
//! holds its input to what the property tests hold theirs to, and panics where it falls short.

/// The bounded line reader: the first byte of `data` is the bound (0–255), the second the size
/// of the reader's buffer (1–256, so that lines cross its boundaries), the rest the input. It
/// must read as the lines that splitting the input gives, each kept whole within the bound and
/// dropped (its length told) beyond it.
pub fn lines(data: &[u8]) {
    let [max, chunk, input @ ..] = data else {
        return;
    };
    let (max, chunk) = (usize::from(*max), usize::from(*chunk) + 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let got = runtime.block_on(crate::lines::oracle::lines_lossy(input, max, chunk));
    assert_eq!(got, crate::lines::oracle::reference(input, max));
}

/// The tools-file parser, on `data` as text (invalid UTF-8 replaced): it makes settings, bounds
/// and tools within their rules, or refuses the file with an error that names it.
pub fn tools_file(data: &[u8]) {
    crate::tools::check_any_text(&String::from_utf8_lossy(data));
}
