//! The router under any sequence of steps its host and clients can take, every write checked
//! (`mcp_tasks_guest::fuzzing::router_sequence`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mcp_tasks_guest::fuzzing::router_sequence(data);
});
