//! `layers.csv`, `layer_movements.csv` and `layer_history` (SPEC §7).
use crate::output::{date, int, opt_date, p, t, Table};
use koc_engine::fmt::Day;
use koc_engine::model::Dataset;
use koc_engine::stages::layers::{moved, movements, summarize, LayerRow};

/// `layers.csv`, `layer_movements.csv` and `layer_history` (SPEC §7).
pub fn tables(ds: &Dataset, history: &[(Day, LayerRow)], at_d: &LayerRow, ids: &[String]) -> Vec<Table> {
    let res = summarize(history, at_d, ds.as_of);
    let mut layers = Table::new(
        "layers",
        &[
            "member_id",
            "nickname",
            "layer",
            "layer_since",
            "previous_layer",
            "moved",
        ],
    );
    for (i, m) in ds.table_members() {
        let Some(l) = at_d[i] else { continue };
        let prev = if res.has_previous { res.previous[i] } else { None };
        layers.push(vec![
            t(&m.id),
            t(m.nickname.clone().unwrap_or_default()),
            t(&ids[l]),
            opt_date(res.since[i]),
            t(prev.map(|x| ids[x].clone()).unwrap_or_else(|| "(new)".into())),
            p(moved(prev, l)),
        ]);
    }
    let mut moves = Table::new("layer_movements", &["from_layer", "to_layer", "members"]);
    for m in movements(ds, history, at_d) {
        moves.push(vec![
            t(m.from.map(|x| ids[x].clone()).unwrap_or_else(|| "(new)".into())),
            t(&ids[m.to]),
            int(m.members as i64),
        ]);
    }
    let mut hist = Table::new("layer_history", &["member_id", "snapshot", "layer"]);
    let all: Vec<(Day, &LayerRow)> = history
        .iter()
        .map(|(d, r)| (*d, r))
        .chain(std::iter::once((ds.as_of, at_d)))
        .collect();
    for (i, m) in ds.table_members() {
        for (d, row) in &all {
            if let Some(l) = row[i] {
                hist.push(vec![t(&m.id), date(*d), t(&ids[l])]);
            }
        }
    }
    vec![layers, moves, hist]
}
