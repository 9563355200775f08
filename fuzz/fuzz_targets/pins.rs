//! Parsing pins: any text for sources.toml and a target file gives pins or an error, never a
//! panic; pins that parse hold only lowercase sha256 digests and relative, plain names.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The input is the two files, split at the first NUL (all of it is sources.toml without one).
    let (sources, target) = text.split_once('\0').unwrap_or((text, ""));
    let targets = [("x86_64-unknown-linux-musl".to_string(), target.to_string())];
    let with_target = pyelf::toolchain::pins::Pins::parse(sources, targets);
    let alone = pyelf::toolchain::pins::Pins::parse(sources, []);
    for pins in [with_target, alone].into_iter().flatten() {
        for pin in &pins.sources {
            assert!(pins.source(&pin.name).is_ok());
            for a in &pin.artifacts {
                assert!(
                    a.sha256.len() == 64 && a.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                );
                assert!(!a.file.contains('/') && !a.file.is_empty());
                assert!(!a.top_dir.starts_with('/') && !a.top_dir.split('/').any(|c| c == ".."));
            }
        }
    }
});
