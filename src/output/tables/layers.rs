//! `layers.csv`, `layer_movements.csv` and `layer_history` (SPEC §7).
use crate::output::{date, int, opt_date, p, t, Table};
use koc_engine::fmt::Day;
use koc_engine::model::Dataset;
use koc_engine::stages::layers::{moved, movements, summarize, LayerRow};

/// `layers.csv`, `layer_movements.csv` and `layer_history` (SPEC §7).
/// `layers`, `layer_movements` and `layer_history`, each handed to `take` before the
/// next is built; `layer_history` (a row per member and snapshot) in pieces, `take`'s
/// `more` saying that more of it follows.
pub fn each(
    ds: &Dataset,
    history: &[(Day, LayerRow)],
    at_d: &LayerRow,
    ids: &[String],
    take: &mut dyn FnMut(Table, bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
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
    take(layers, false)?;
    let mut moves = Table::new("layer_movements", &["from_layer", "to_layer", "members"]);
    for m in movements(ds, history, at_d) {
        moves.push(vec![
            t(m.from.map(|x| ids[x].clone()).unwrap_or_else(|| "(new)".into())),
            t(&ids[m.to]),
            int(m.members as i64),
        ]);
    }
    take(moves, false)?;
    let all: Vec<(Day, &LayerRow)> = history
        .iter()
        .map(|(d, r)| (*d, r))
        .chain(std::iter::once((ds.as_of, at_d)))
        .collect();
    // a row per member and snapshot: in pieces of HISTORY_PIECE members
    let members: Vec<(usize, &koc_engine::model::Member)> = ds.table_members().collect();
    let mut history_of = |piece: &[(usize, &koc_engine::model::Member)]| {
        let mut hist = Table::new("layer_history", &["member_id", "snapshot", "layer"]);
        for (i, m) in piece {
            for (d, row) in &all {
                if let Some(l) = row[*i] {
                    hist.push(vec![t(&m.id), date(*d), t(&ids[l])]);
                }
            }
        }
        hist
    };
    super::in_pieces(&members, HISTORY_PIECE, &mut history_of, take)
}

/// Members per piece of `layer_history` (13 snapshots of 1.3 M members, built whole as
/// cells, took 2.5 GB).
const HISTORY_PIECE: usize = 100_000;
