//! The growth path (SPEC §15) and the hall of fame (SPEC §14) on fixtures worked out
//! by hand, and the checks and warnings that come with them (SPEC §3, §4).
mod common;
use common::*;

const PIPELINE: &str = r#"program: {name: t, start: 2025-01-01, locale: en}
store: store
sources:
  members: {path: members.csv, columns: {member_id: member_id, nickname: nickname, joined_at: joined_at}}
  activity:
    path: activity.csv
    columns: {event_id: event_id, member_id: member_id, occurred_at: occurred_at, action: action, topic: topic}
  teams: {path: teams.csv, columns: {team_id: team_id, member_id: member_id, role: role, completed_at: completed_at}}
  mentorships: {path: mentorships.csv, columns: {mentor_id: mentor_id, mentee_id: mentee_id, from: from, until: until}}
metrics:
  posts_90d: {count: events, where: "action = 'post'", window_days: 90}
  comments_90d: {count: events, where: "action = 'comment'", window_days: 90}
layers:
  levels:
    - {id: core, when: "posts_90d >= 3"}
    - {id: active, when: "posts_90d >= 1"}
    - {id: newcomer, default: true}
scouting:
  candidates: "layer = 'newcomer' AND comments_90d >= 1"
  features: [{metric: comments_90d, weight: 1}]
growth:
  specialty: {field: topic, window_days: 90, min_share: 0.5, min_events: 2}
  lead: {min_mentees: 2}
  collaborate: {window_days: 60}
  mentoring: {mentor_layers: [core], capacity: 2}
  projects:
    - id: p1
      from_layers: [active, core]
      rank_by: posts_90d
      roles:
        - {role: r_photo, specialty: photo}
        - {role: r_photo2, specialty: photo}
        - {role: r_adas, specialty: adas}
    - id: p2
      roles:
        - {role: r_photo, specialty: photo}
        - {role: r_ev, specialty: ev}
"#;

/// L leads (two active mentees, and a completed team: lead wins); C collaborates (one
/// mentee, below the bar; a team done within 60 days; a specialty); O's team is older
/// than the window; S1..S3 are core; S3 is busy; N1..N6 are flagged newcomers, N3
/// with a mentor already.
fn program(w: &Workdir, pipeline: &str) {
    w.create("pipeline.yaml", pipeline);
    let ids = ["C", "L", "N1", "N2", "N3", "N4", "N5", "N6", "O", "S1", "S2", "S3"];
    let mut members = String::from("member_id,nickname,joined_at\n");
    for id in ids {
        members.push_str(&format!("{id},{id},2025-01-01\n"));
    }
    w.create("members.csv", &members);
    let mut act = String::from("event_id,member_id,occurred_at,action,topic\n");
    let mut n = 0;
    let mut ev = |who: &str, action: &str, topic: &str| {
        n += 1;
        act.push_str(&format!(
            "e{n},{who},2025-03-{:02} 10:00:00,{action},{topic}\n",
            1 + n % 28
        ));
    };
    ev("L", "post", "");
    for _ in 0..2 {
        ev("C", "post", "photo");
    }
    for _ in 0..3 {
        ev("S1", "post", "photo");
    }
    for t in ["adas", "ev", "family"] {
        ev("S2", "post", t);
    }
    for _ in 0..4 {
        ev("S3", "post", "photo");
    }
    for _ in 0..3 {
        ev("N1", "comment", "photo");
    }
    for _ in 0..2 {
        ev("N2", "comment", "ev");
    }
    for who in ["N3", "N4", "N5", "N6"] {
        ev(who, "comment", "");
    }
    w.create("activity.csv", &act);
    w.create(
        "teams.csv",
        "team_id,member_id,role,completed_at\nT1,L,script,2025-03-10\nT1,C,video,2025/3/10\nT0,O,tech,2024-12-01\nT2,S3,photo,\n",
    );
    w.create(
        "mentorships.csv",
        "mentor_id,mentee_id,from,until\nL,N3,2025-03-01,\nL,X1,2025-02-01,\nC,X2,2025-02-01,\nS1,X3,2025-03-01,2025-03-31\nS2,X4,2025-01-01,2025-03-30\nS3,X5,2025-03-15,\nS2,X6,2025-04-01,\n",
    );
}

fn rows(run: &std::path::Path, name: &str) -> Vec<String> {
    read_csv(&run.join(name)).iter().map(|r| r.join(",")).collect()
}

#[test]
fn stages_mentor_matches_and_team_proposals() {
    let w = Workdir::new();
    program(&w, PIPELINE);
    let run = w.run_at("2025-03-31");
    assert_eq!(
        rows(&run, "growth.csv"),
        [
            "member_id,nickname,layer,stage,specialty,completed_teams,active_mentees,mentor_id",
            "C,C,active,collaborate,photo,1,1,",
            "L,L,active,lead,,1,2,",
            "N1,N1,newcomer,specialise,photo,0,0,",
            "N2,N2,newcomer,specialise,ev,0,0,",
            "N3,N3,newcomer,explore,,0,0,L",
            "N4,N4,newcomer,explore,,0,0,",
            "N5,N5,newcomer,explore,,0,0,",
            "N6,N6,newcomer,explore,,0,0,",
            "O,O,newcomer,explore,,0,0,",
            "S1,S1,core,specialise,photo,0,1,",
            "S2,S2,core,explore,,0,0,",
            "S3,S3,core,specialise,photo,0,1,",
        ]
    );
    // N1: the same specialty (S1, load 1) beats a smaller load (S2, load 0);
    // N3 has a mentor; capacity 2 leaves nobody for N6; L (lead) is full
    assert_eq!(
        rows(&run, "mentor_matches.csv"),
        [
            "newcomer_id,newcomer_nickname,newcomer_specialty,mentor_id,mentor_nickname,mentor_specialty,same_specialty",
            "N1,N1,photo,S1,S1,photo,true",
            "N2,N2,ev,S2,S2,,false",
            "N4,N4,,S2,S2,,false",
            "N5,N5,,S3,S3,photo,false",
            "N6,N6,,,,,false",
        ]
    );
    // S3 is busy; S1 is proposed once; nobody has adas; p2 takes every layer, by member_id
    assert_eq!(
        rows(&run, "team_proposals.csv"),
        [
            "project_id,role,member_id,nickname,specialty,layer,value",
            "p1,r_photo,S1,S1,photo,core,3",
            "p1,r_photo2,C,C,photo,active,2",
            "p1,r_adas,,,,,",
            "p2,r_photo,N1,N1,photo,newcomer,",
            "p2,r_ev,N2,N2,ev,newcomer,",
        ]
    );
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("## Growth path"), "{report}");
    assert!(report.contains("| p1 | r\\_adas | **gap: nobody fits** |"), "{report}");
}

#[test]
fn a_newcomer_is_never_its_own_mentor() {
    let w = Workdir::new();
    let pipeline = PIPELINE
        .replace(
            "mentor_layers: [core], capacity: 2",
            "mentor_layers: [newcomer], capacity: 1",
        )
        .replace(
            "candidates: \"layer = 'newcomer' AND comments_90d >= 1\"",
            "candidates: \"comments_90d >= 2\"",
        );
    program(&w, &pipeline);
    let run = w.run_at("2025-03-31");
    // N1 and N2 are the only candidates and newcomer-layer mentors: each gets the other
    // (N1's own specialty would have matched itself)
    let got = rows(&run, "mentor_matches.csv");
    assert_eq!(got[1], "N1,N1,photo,N2,N2,ev,false");
    assert_eq!(got[2].split(',').take(4).collect::<Vec<_>>(), ["N2", "N2", "ev", "N1"]);
}

#[test]
fn without_growth_or_hall_of_fame_their_files_are_not_written() {
    let w = Workdir::new();
    let cut = PIPELINE.find("growth:").unwrap();
    program(&w, &PIPELINE[..cut]);
    let run = w.run_at("2025-03-31");
    for f in [
        "growth.csv",
        "mentor_matches.csv",
        "team_proposals.csv",
        "hall_of_fame.csv",
    ] {
        assert!(!run.join(f).exists(), "{f}");
    }
}

#[test]
fn unknown_layers_and_rank_by_metrics_are_pipeline_errors() {
    let w = Workdir::new();
    let pipeline = PIPELINE
        .replace("mentor_layers: [core]", "mentor_layers: [mentors]")
        .replace("from_layers: [active, core]", "from_layers: [active, vip]")
        .replace("rank_by: posts_90d", "rank_by: posts_9d");
    program(&w, &pipeline);
    let out = w.koc(&["validate", "pipeline.yaml"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(err.contains("growth.mentoring.mentor_layers: layer 'mentors'"), "{err}");
    assert!(err.contains("growth.projects[id=p1].from_layers: layer 'vip'"), "{err}");
    assert!(err.contains("rank_by: 'posts_9d' is not a metric"), "{err}");
    assert!(err.contains("did you mean 'posts_90d'?"), "{err}");
}

#[test]
fn hall_of_fame_seasons_and_ties() {
    let w = Workdir::new();
    w.create(
        "pipeline.yaml",
        &small_pipeline(
            "points:\n  rules:\n    - {id: post, action: post, points: 10}\nhall_of_fame:\n  season: month\n  top_contributors: 2\n",
        ),
    );
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}a,A,2025-01-01,,\nb,B,2025-01-01,,\nc,C,2025-01-01,,\nd,D,2025-01-01,,\n"),
    );
    // March: b and a tie at 20 (member_id decides), d has 10 and is cut by top 2;
    // February: c alone
    w.create(
        "activity.csv",
        &format!(
            "{ACTIVITY_HEADER}1,c,2025-02-03 10:00:00,发帖,,,,0,0,0\n2,b,2025-03-01 10:00:00,发帖,,,,0,0,0\n3,b,2025-03-02 10:00:00,发帖,,,,0,0,0\n4,a,2025-03-05 10:00:00,发帖,,,,0,0,0\n5,a,2025-03-06 10:00:00,发帖,,,,0,0,0\n6,d,2025-03-07 10:00:00,发帖,,,,0,0,0\n"
        ),
    );
    let run = w.run_at("2025-03-31");
    assert_eq!(
        rows(&run, "hall_of_fame.csv"),
        [
            "season,category,rank,member_id,nickname,value,detail",
            "2025-02,top_contributor,1,c,C,10,",
            "2025-03,top_contributor,1,a,A,20,",
            "2025-03,top_contributor,2,b,B,20,",
        ]
    );
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("### Season 2025-03"), "{report}");
    assert!(report.contains("### Season 2025-02"), "{report}");
}

#[test]
fn entries_of_a_contest_the_pipeline_lacks_are_stored_with_a_warning() {
    let w = Workdir::new();
    let extra = "  contest_entries:\n    path: entries.csv\n    columns: {entry_id: entry_id, contest_id: contest_id, member_id: member_id, submitted_at: submitted_at}\n";
    let pipeline = small_pipeline("").replace("ingest:\n", &format!("{extra}ingest:\n"));
    w.create("pipeline.yaml", &pipeline);
    w.create("members.csv", &format!("{MEMBERS_HEADER}a,A,2025-01-01,,\n"));
    w.create("activity.csv", ACTIVITY_HEADER);
    w.create(
        "entries.csv",
        "entry_id,contest_id,member_id,submitted_at\nx1,old-2024,a,2024-12-01 10:00:00\nx2,old-2024,a,2024-12-02 10:00:00\nx3,photo-2023,a,2023-06-01 10:00:00\n",
    );
    let out = w.koc(&["ingest", "pipeline.yaml"]);
    out.expect_code(0);
    let err = out.stderr();
    assert!(
        err.contains("warning: contest_entries: 2 row(s) name contest 'old-2024'"),
        "{err}"
    );
    assert!(
        err.contains("warning: contest_entries: 1 row(s) name contest 'photo-2023'"),
        "{err}"
    );
    let out = w.koc(&["ingest", "pipeline.yaml"]);
    assert!(!out.stderr().contains("warning"), "a skipped file warns no more");
}
