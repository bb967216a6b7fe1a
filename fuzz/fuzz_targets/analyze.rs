//! Fuzzes the decoder entry point and everything after it: any bytes must give an
//! analysis or an error — never a panic, an abort, or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = orakgaraki::audio::Limits { max_duration_s: 600.0, ..Default::default() };
    let _ = orakgaraki::audio::analyze(std::io::Cursor::new(data.to_vec()), None, limits);
});
