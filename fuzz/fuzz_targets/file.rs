//! Fuzzes the multi-process file reader: arbitrary bytes read as another process's file must
//! never panic, never allocate beyond what the bytes hold, and render as valid text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tasker_metrics::core::exposition::parse::{parse, Syntax};
use tasker_metrics::core::exposition::{render, Format};
use tasker_metrics::core::multiprocess::read_untrusted;

fuzz_target!(|data: &[u8]| {
    let families = read_untrusted(data);
    let text = String::from_utf8(render(Format::Prometheus, &families)).expect("the text format is UTF-8");
    if let Err(e) = parse(&text, Syntax::Prometheus) {
        panic!("a file read back into invalid text: {e}\n{text}");
    }
});
