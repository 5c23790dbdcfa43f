//! Any text as a pipeline file: parse (every section's mistakes) and check. Nothing
//! may panic or overflow the stack; a mistake is an error value.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = std::path::Path::new("pipeline.yaml");
    let Ok(pipeline) = koc_engine::pipeline::config::parse_text(path, text) else {
        return;
    };
    let loaded = koc_engine::pipeline::config::Loaded::new(
        path.to_path_buf(),
        std::path::PathBuf::from("."),
        text.to_string(),
        pipeline,
    );
    let _ = koc_engine::pipeline::check::check(loaded);
});
