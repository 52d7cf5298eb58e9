//! The host's bounded line reader under any input, bound and buffer size
//! (`mcp_tasks::fuzzing::lines`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mcp_tasks::fuzzing::lines(data);
});
