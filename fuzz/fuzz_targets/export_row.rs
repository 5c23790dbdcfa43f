//! Any bytes as an activity export: decode, sniff, map the header, cut every record
//! (koc's own line cutter for quote-free text, `csv` otherwise) and convert it.
//! Nothing may panic; every record must come out as a row, an ignored one or a reject,
//! and the line cutter must give the fields `csv` gives.
#![no_main]
use koc_engine::ingest::convert::{Converter, Outcome};
use koc_engine::ingest::records::{Next, Records};
use koc_engine::ingest::timestamps::TsParser;
use libfuzzer_sys::fuzz_target;

const CFG: &str = "path: a.csv
columns: {event_id: event_id, member_id: member_id, occurred_at: occurred_at, action: action, topic: topic, likes: likes}
values:
  action: {发帖: post, 签到: check_in}
";

fuzz_target!(|data: &[u8]| {
    let cfg: koc_engine::pipeline::config::SourceCfg = serde_saphyr::from_str(CFG).expect("config");
    let path = std::path::Path::new("a.csv");
    let Ok(export) = koc_engine::ingest::sources::open_bytes(path, data, &cfg) else {
        return;
    };
    if export.is_empty() {
        return;
    }
    let Ok(header) = export.map_header(&koc_engine::table::ACTIVITY, &cfg) else {
        return;
    };
    let ignore = vec!["浏览".to_string()];
    let conv = Converter::new(
        &koc_engine::table::ACTIVITY,
        &cfg,
        header,
        TsParser::new(None, chrono_tz::Asia::Shanghai),
        &ignore,
        &[],
    );
    // csv's own records, to hold the cutter to
    let mut by_csv = export.reader();
    let mut expected = by_csv.records().filter_map(Result::ok).filter(|r| !(r.len() == 1 && r[0].is_empty()));
    let mut records = Records::of(&export);
    let mut buf = Vec::new();
    while let Some(next) = records.next_record() {
        let Next::Record(_, fields) = next else { continue };
        if fields.len() == 1 && fields.get(0).is_empty() {
            continue;
        }
        if let Some(want) = expected.next() {
            assert_eq!(fields.iter().collect::<Vec<_>>(), want.iter().collect::<Vec<_>>());
        }
        buf.clear();
        match conv.convert(&fields, None, &mut buf) {
            Outcome::Row => assert_eq!(koc_engine::table::unpack(&buf).len(), koc_engine::table::ACTIVITY.cols.len()),
            Outcome::Ignored | Outcome::Rejected(_) => {}
        }
    }
});
