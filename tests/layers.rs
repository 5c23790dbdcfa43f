//! Layers, movements and scouting on a fixture worked out by hand (SPEC §7, §8).
mod common;
use common::*;

const PIPELINE: &str = r#"program: {name: t, start: 2025-01-01, locale: en}
store: store
sources:
  members: {path: members.csv, columns: {member_id: member_id, nickname: nickname, joined_at: joined_at}}
  activity:
    path: activity.csv
    columns: {event_id: event_id, member_id: member_id, occurred_at: occurred_at, action: action, topic: topic}
  overrides: {path: overrides.csv, columns: {member_id: member_id, layer: layer, from: from, until: until}}
metrics:
  posts_30d: {count: events, where: "action = 'post'", window_days: 30}
  featured_all: {count: events, where: "action = 'featured'"}
layers:
  levels:
    - {id: alumni, sticky: true, when: "ever_core AND days_since_active >= 20"}
    - {id: core, when: "featured_all >= 1 AND posts_30d >= 2"}
    - {id: active, when: "posts_30d >= 1"}
    - {id: newcomer, default: true}
scouting:
  candidates: "tenure_days >= 0"
  features: [{metric: posts_30d, weight: 1}, {metric: featured_all, weight: 1}]
  flag: {top: 2, min_score: 0.5}
  specialty: {field: topic, window_days: 90, min_share: 0.5, min_events: 2}
"#;

const ACTIVITY: &str = "event_id,member_id,occurred_at,action,topic
a1,a,2025-01-10 10:00:00,post,x
a2,a,2025-01-20 10:00:00,post,
a3,a,2025-01-20 11:00:00,featured,
a4,a,2025-04-05 10:00:00,post,
b1,b,2025-02-20 10:00:00,post,photo
b2,b,2025-02-21 10:00:00,comment,adas
b3,b,2025-02-22 10:00:00,comment,photo
d0,d,2024-12-20 10:00:00,featured,
d1,d,2025-01-01 10:00:00,post,adas
d2,d,2025-01-31 10:00:00,post,adas
d3,d,2025-02-01 10:00:00,comment,ev
d4,d,2025-02-02 10:00:00,comment,adas
d5,d,2025-02-03 10:00:00,comment,ev
";

fn program(w: &Workdir) {
    w.create("pipeline.yaml", PIPELINE);
    w.create(
        "members.csv",
        "member_id,nickname,joined_at\na,A,2024-12-01\nb,B,2025-02-15\nc,C,2024-12-01\nd,D,2024-12-01\ne,E,2025-05-01\n",
    );
    w.create("activity.csv", ACTIVITY);
    // c: core through 02-28 (inclusive); alumni from 03-15; active from 04-01 (the later `from` wins)
    w.create(
        "overrides.csv",
        "member_id,layer,from,until\nc,core,2025-02-01,2025-02-28\nc,alumni,2025-03-15,\nc,active,2025/4/1,\n",
    );
}

#[test]
fn snapshots_sticky_layers_overrides_and_window_edges() {
    let w = Workdir::new();
    program(&w);
    let dir = w.run_at("2025-04-10");
    let hist = read_parquet(&dir.join("layer_history.parquet"));
    let got: Vec<String> = hist[1..].iter().map(|r| r.join(" ")).collect();
    assert_eq!(
        got,
        [
            // a: core at 01-31 (2 posts in (01-01, 01-31], featured); quiet for 39 days → alumni;
            // posting again on 04-05 matches active, but alumni is a floor
            "a 2025-01-31 core",
            "a 2025-02-28 alumni",
            "a 2025-03-31 alumni",
            "a 2025-04-10 alumni",
            // b joined 02-15: not evaluated at 01-31
            "b 2025-02-28 active",
            "b 2025-03-31 newcomer",
            "b 2025-04-10 newcomer",
            // c: overrides only
            "c 2025-01-31 newcomer",
            "c 2025-02-28 core",
            "c 2025-03-31 alumni",
            "c 2025-04-10 active",
            // d: the post of 01-01 is exactly 30 days before 01-31, outside the window:
            // one post only, so active and not core
            "d 2025-01-31 active",
            "d 2025-02-28 active",
            "d 2025-03-31 newcomer",
            "d 2025-04-10 newcomer",
        ]
    );
    let layers = read_csv(&dir.join("layers.csv"));
    assert_eq!(
        layers[1..].iter().map(|r| r.join(" ")).collect::<Vec<_>>(),
        [
            "a A alumni 2025-02-28 alumni same",
            "b B newcomer 2025-03-31 newcomer same",
            "c C active 2025-04-10 alumni down",
            "d D newcomer 2025-03-31 newcomer same",
        ]
    );
    let moves = read_csv(&dir.join("layer_movements.csv"));
    assert_eq!(
        moves[1..].iter().map(|r| r.join(" ")).collect::<Vec<_>>(),
        ["alumni alumni 1", "alumni active 1", "newcomer newcomer 2"]
    );
}

#[test]
fn d_on_a_month_end_is_the_last_snapshot_and_new_members_show_as_new() {
    let w = Workdir::new();
    program(&w);
    let dir = w.run_at("2025-02-28");
    let hist = read_parquet(&dir.join("layer_history.parquet"));
    let snaps: Vec<&str> = hist[1..]
        .iter()
        .filter(|r| r[0] == "a")
        .map(|r| r[1].as_str())
        .collect();
    assert_eq!(snaps, ["2025-01-31", "2025-02-28"]);
    let layers = read_csv(&dir.join("layers.csv"));
    assert_eq!(layers[2], ["b", "B", "active", "2025-02-28", "(new)", "new"]);
    let moves = read_csv(&dir.join("layer_movements.csv"));
    assert_eq!(moves[1], ["(new)", "active", "1"]);
}

#[test]
fn percentile_ties_scores_ranks_flags_reasons_and_specialty() {
    let w = Workdir::new();
    program(&w);
    let dir = w.run_at("2025-04-10");
    let n = read_csv(&dir.join("newcomers.csv"));
    assert_eq!(
        n[0],
        [
            "member_id",
            "nickname",
            "score",
            "rank",
            "flagged",
            "reasons",
            "specialty",
            "posts_30d",
            "featured_all"
        ]
    );
    // posts_30d: a=1, b=c=d=0 → p(a) = 3/3 = 1, p(others) = (0 + 2/2)/3 = 1/3
    // featured_all: a=d=1, b=c=0 → p(a,d) = (2 + 1/2)/3 = 5/6, p(b,c) = (1/2)/3 = 1/6
    // scores: a (1 + 5/6)/2, d (1/3 + 5/6)/2, b = c = (1/3 + 1/6)/2 = 0.25 (b first by member_id)
    // specialty (topics in (01-10, 04-10]): b photo 2 of 3; d adas 2, ev 2 → the smaller value
    assert_eq!(
        n[1..].iter().map(|r| r.join("|")).collect::<Vec<_>>(),
        [
            "a|A|0.916667|1|true|posts_30d=1 (p100); featured_all=1 (p83)||1|1",
            "d|D|0.583333|2|true|featured_all=1 (p83); posts_30d=0 (p33)|adas|0|1",
            "b|B|0.25|3|false|posts_30d=0 (p33); featured_all=0 (p17)|photo|0|0",
            "c|C|0.25|4|false|posts_30d=0 (p33); featured_all=0 (p17)||0|0",
        ]
    );
}

/// `distinct: member_id` counts the member's own id (SPEC §7: distinct FIELD over the
/// window's events): 1 with a post in the window, 0 without, so it can stand for
/// "posted at least once".
#[test]
fn a_distinct_member_id_metric_is_one_for_a_member_with_events() {
    let w = Workdir::new();
    program(&w);
    w.create(
        "pipeline.yaml",
        &PIPELINE.replace(
            "posts_30d: {count: events, where: \"action = 'post'\", window_days: 30}",
            "posts_30d: {distinct: member_id, where: \"action = 'post'\", window_days: 30}",
        ),
    );
    let dir = w.run_at("2025-02-28");
    // b posted on 02-20: one distinct member in the window → active (not core: < 2)
    let layers = read_csv(&dir.join("layers.csv"));
    assert_eq!(layers[2], ["b", "B", "active", "2025-02-28", "(new)", "new"]);
    let hist = read_parquet(&dir.join("layer_history.parquet"));
    let d: Vec<String> = hist[1..].iter().filter(|r| r[0] == "d").map(|r| r.join(" ")).collect();
    // d's post of 01-31 is in both windows: (01-01, 01-31] and (01-29, 02-28]
    assert_eq!(d, ["d 2025-01-31 active", "d 2025-02-28 active"]);
}
