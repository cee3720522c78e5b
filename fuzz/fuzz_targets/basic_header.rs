#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| grantor_fuzz::check_basic_header(data));
