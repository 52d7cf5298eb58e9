//! The tools-file parser under any text (`mcp_tasks::fuzzing::tools_file`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mcp_tasks::fuzzing::tools_file(data);
});
