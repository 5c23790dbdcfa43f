//! Any bytes as an activity export: decode, sniff, map the header, convert every row.
//! Nothing may panic; every row must come out as a row, an ignored one or a reject.
#![no_main]
use koc::convert::{Converter, Fields, Outcome};
use koc::timestamps::TsParser;
use libfuzzer_sys::fuzz_target;

const CFG: &str = "path: a.csv
columns: {event_id: event_id, member_id: member_id, occurred_at: occurred_at, action: action, topic: topic, likes: likes}
values:
  action: {发帖: post, 签到: check_in}
";

fuzz_target!(|data: &[u8]| {
    let cfg: koc::config::SourceCfg = serde_yaml::from_str(CFG).expect("config");
    let path = std::path::Path::new("a.csv");
    let Ok(export) = koc::sources::open_bytes(path, data, &cfg) else {
        return;
    };
    if export.is_empty() {
        return;
    }
    let Ok(header) = export.map_header(&koc::table::ACTIVITY, &cfg) else {
        return;
    };
    let ignore = vec!["浏览".to_string()];
    let conv = Converter::new(
        &koc::table::ACTIVITY,
        &cfg,
        header,
        TsParser::new(None, chrono_tz::Asia::Shanghai),
        &ignore,
        &[],
    );
    let mut reader = export.reader();
    let mut buf = Vec::new();
    for record in reader.byte_records() {
        let Ok(record) = record else { continue };
        // SAFETY: `reader` is `export.reader()`, which read `record`
        let fields = unsafe { Fields::of(&export, &record) };
        match conv.convert(&fields, None, &mut buf) {
            Outcome::Row => assert_eq!(koc::table::unpack(&buf).len(), koc::table::ACTIVITY.cols.len()),
            Outcome::Ignored | Outcome::Rejected(_) => {}
        }
    }
});
