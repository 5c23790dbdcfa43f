//! `koc synth` and `koc init`: a synthetic program in the exports' own formats,
//! deterministic by seed and written as a stream (20 million events fit in memory
//! of a few MB), for benchmarks and for a first program to play with.
use anyhow::Result;
use std::io::{BufWriter, Write};
use std::path::Path;

/// xorshift64*: small, fast and the same everywhere (no dependency for a test generator).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

const PIPELINE: &str = include_str!("../../templates/synth_pipeline.yaml");
const TOPICS: [&str; 7] = [
    "adas",
    "ev_charging",
    "long_drive",
    "maintenance",
    "photo",
    "family",
    "modding",
];
const TASKS: [&str; 5] = ["video", "photo", "review", "qa", "invite"];
const NICK_A: [&str; 8] = ["江南", "北方", "山野", "星途", "瑶光", "追风", "凌云", "海边"];
const NICK_B: [&str; 8] = ["车友", "奶爸", "骑士", "旅人", "摄影师", "工程师", "老王", "小李"];

/// Write DIR/pipeline.yaml and DIR/exports/…; returns the number of events written.
pub fn write(dir: &Path, members: usize, days: usize, seed: u64) -> Result<u64> {
    let exports = dir.join("exports");
    std::fs::create_dir_all(&exports)?;
    std::fs::write(dir.join("pipeline.yaml"), PIPELINE)?;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let start = koc_engine::fmt::day_of(chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"));

    let mut m = BufWriter::new(std::fs::File::create(exports.join("members.csv"))?);
    m.write_all("\u{feff}用户ID,昵称,注册时间,城市,生日,购车日期\n".as_bytes())?;
    // activity level per member: most lurk, a few create a lot
    let mut level = Vec::with_capacity(members);
    let mut joined = Vec::with_capacity(members);
    for i in 0..members {
        let j = start - 400 + rng.below(400 + days as u64 * 3 / 4) as i32;
        joined.push(j.max(start - 400));
        let l = match rng.below(100) {
            0..=59 => 0.05,
            60..=89 => 0.3,
            _ => 0.8,
        };
        level.push(l);
        let nick = format!(
            "{}{}{}",
            NICK_A[rng.below(8) as usize],
            NICK_B[rng.below(8) as usize],
            i % 1000
        );
        let birthday = format!(
            "{}-{:02}-{:02}",
            1965 + rng.below(40),
            1 + rng.below(12),
            1 + rng.below(28)
        );
        writeln!(
            m,
            "{},{},{} 09:00:00,上海,{},",
            100000 + i,
            nick,
            koc_engine::fmt::fmt_day(joined[i]),
            birthday
        )?;
    }
    m.flush()?;

    let labels = ["签到", "发帖", "评论", "完成任务", "浏览", "精华"];
    let mut events = 0u64;
    let mut event_id = 1u64;
    let mut current_month = String::new();
    let mut out: Option<BufWriter<std::fs::File>> = None;
    for d in 0..days as i32 {
        let day = start + d;
        let month = koc_engine::fmt::fmt_day(day)[..7].replace('-', "");
        if month != current_month {
            if let Some(mut w) = out.take() {
                w.flush()?;
            }
            let mut w = BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(exports.join(format!("activity_{month}.csv")))?,
            );
            w.write_all("事件ID,用户ID,发生时间,行为,话题,任务类型,内容ID,点赞,评论,转发\n".as_bytes())?;
            out = Some(w);
            current_month = month;
        }
        let w = out.as_mut().expect("open month file");
        let date = koc_engine::fmt::fmt_day(day);
        for i in 0..members {
            if joined[i] > day || !rng.chance(level[i]) {
                continue;
            }
            let n = 1 + rng.below(4);
            for k in 0..n {
                let a = match rng.below(100) {
                    0..=29 => 0,
                    30..=49 => 1,
                    50..=74 => 2,
                    75..=84 => 3,
                    85..=98 => 4,
                    _ => 5,
                };
                let (topic, task) = match a {
                    1 | 5 => (TOPICS[rng.below(7) as usize], ""),
                    3 => ("", TASKS[rng.below(5) as usize]),
                    _ => ("", ""),
                };
                let likes = if a == 1 || a == 5 { rng.below(60) } else { 0 };
                let (h, mi) = (7 + rng.below(15), rng.below(60));
                writeln!(
                    w,
                    "{event_id},{},{date} {h:02}:{mi:02}:{:02},{},{topic},{task},C{},{likes},{},{}",
                    100000 + i,
                    k * 7 % 60,
                    labels[a],
                    event_id,
                    likes / 4,
                    likes / 10
                )?;
                event_id += 1;
                events += 1;
            }
        }
    }
    if let Some(mut w) = out.take() {
        w.flush()?;
    }
    let mut r = BufWriter::new(std::fs::File::create(exports.join("redemptions.csv"))?);
    r.write_all("兑换单号,用户ID,兑换时间,商品名称,消耗积分\n".as_bytes())?;
    for k in 0..(members / 5) {
        let day = start + rng.below(days as u64) as i32;
        let (item, cost) = [("品牌贴纸", 100), ("钥匙扣", 300), ("保养券", 2000)][rng.below(3) as usize];
        writeln!(
            r,
            "R{k:07},{},{} 12:00:00,{item},{cost}",
            100000 + rng.below(members as u64),
            koc_engine::fmt::fmt_day(day)
        )?;
    }
    r.flush()?;
    small_exports(&exports, members, days, start, &mut rng)?;
    growth_exports(&exports, members, days, start, &mut rng)?;
    Ok(events)
}

/// A photo contest's entries and three judges' scores, feedback on the posting bonus,
/// and one override: every source of the program has rows, so a first report has no
/// banner about an empty sample file.
fn small_exports(
    exports: &Path,
    members: usize,
    days: usize,
    start: koc_engine::fmt::Day,
    rng: &mut Rng,
) -> Result<()> {
    let member = |rng: &mut Rng| 100000 + rng.below(members as u64);
    // the contest runs in March and April of the program's first year
    let (from, to) = (start + 59, start + 119);
    let mut e = BufWriter::new(std::fs::File::create(exports.join("contest_entries.csv"))?);
    e.write_all("作品ID,赛事ID,用户ID,提交时间,内容ID,作品标题\n".as_bytes())?;
    let mut j = BufWriter::new(std::fs::File::create(exports.join("judge_scores.csv"))?);
    j.write_all("赛事ID,作品ID,评委,评分项,分数\n".as_bytes())?;
    let entries = (members / 20).clamp(3, 200);
    for k in 0..entries {
        let day = (from + rng.below((to - from) as u64) as i32).min(start + days as i32 - 1);
        writeln!(
            e,
            "SP{k:04},spring-photo,{},{} 20:00:00,C{k},春日出行 {k}",
            member(rng),
            koc_engine::fmt::fmt_day(day)
        )?;
        for judge in ["zhang", "li", "wang"] {
            for criterion in ["composition", "story"] {
                writeln!(j, "spring-photo,SP{k:04},{judge},{criterion},{}", 4 + rng.below(7))?;
            }
        }
    }
    e.flush()?;
    j.flush()?;
    let mut f = BufWriter::new(std::fs::File::create(exports.join("feedback.csv"))?);
    f.write_all("问卷编号,用户ID,提交时间,激励项目,评分,意见\n".as_bytes())?;
    let comments = ["奖励到账很快", "希望多一些任务", "规则清楚", ""];
    for k in 0..(members / 50).clamp(3, 500) {
        let day = start + rng.below(days as u64) as i32;
        writeln!(
            f,
            "Q{k:05},{},{} 21:00:00,post_bonus,{},{}",
            member(rng),
            koc_engine::fmt::fmt_day(day),
            2 + rng.below(4),
            comments[rng.below(4) as usize]
        )?;
    }
    f.flush()?;
    std::fs::write(
        exports.join("overrides.csv"),
        format!(
            "用户ID,分层,生效日期,截止日期,原因\n{},core,{},,车友会会长，长期核心伙伴\n",
            member(rng),
            koc_engine::fmt::fmt_day(start + 31)
        ),
    )?;
    Ok(())
}

/// Project teams (three members each; two of three projects done) and mentorships
/// (a third of them ended), for the growth path (SPEC §15).
fn growth_exports(
    exports: &Path,
    members: usize,
    days: usize,
    start: koc_engine::fmt::Day,
    rng: &mut Rng,
) -> Result<()> {
    let member = |rng: &mut Rng| 100000 + rng.below(members as u64);
    let mut t = BufWriter::new(std::fs::File::create(exports.join("teams.csv"))?);
    t.write_all("团队ID,用户ID,角色,项目,完成日期\n".as_bytes())?;
    for k in 0..(members / 30).max(1) {
        let project = ["五分钟车型纪录片", "充电地图共建", "自驾路书"][k % 3];
        let done = (k % 3 != 2).then(|| koc_engine::fmt::fmt_day(start + rng.below(days as u64) as i32));
        for role in ["脚本", "摄像", "技术顾问"] {
            writeln!(
                t,
                "T{k:04},{},{role},{project},{}",
                member(rng),
                done.clone().unwrap_or_default()
            )?;
        }
    }
    t.flush()?;
    let mut m = BufWriter::new(std::fs::File::create(exports.join("mentorships.csv"))?);
    m.write_all("导师ID,学员ID,开始日期,结束日期\n".as_bytes())?;
    for k in 0..(members / 25).max(1) {
        let (mentor, mentee) = (member(rng), member(rng));
        if mentor == mentee {
            continue;
        }
        let from = start + rng.below(days as u64) as i32;
        let until = if k % 3 == 0 {
            koc_engine::fmt::fmt_day(from + 60)
        } else {
            String::new()
        };
        writeln!(m, "{mentor},{mentee},{},{until}", koc_engine::fmt::fmt_day(from))?;
    }
    m.flush()?;
    Ok(())
}

/// The days `koc init` writes, from 2025-01-01.
const INIT_DAYS: usize = 120;

/// `koc init DIR`: a small synthetic program plus copies of the report templates.
/// Returns the last day of its sample data (the `--as-of` to try it with).
pub fn init(dir: &Path) -> Result<koc_engine::fmt::Day> {
    if dir.join("pipeline.yaml").exists() {
        return Err(koc_engine::error::usage_err(format!(
            "{} already holds a pipeline.yaml; choose an empty folder",
            dir.display()
        )));
    }
    write(dir, 150, INIT_DAYS, 7)?;
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates)?;
    let messages = crate::output::messages::NOTICE_TEMPLATES
        .iter()
        .chain(&crate::output::digest::TEMPLATES);
    for (name, text) in crate::output::report::EMBEDDED.iter().chain(messages) {
        std::fs::write(templates.join(name), text)?;
    }
    let mut p = std::fs::read_to_string(dir.join("pipeline.yaml"))?;
    p.push_str("\nreport:\n  templates: templates/   # edit these files to change the report\n");
    std::fs::write(dir.join("pipeline.yaml"), p)?;
    let first = koc_engine::fmt::day_of(chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"));
    Ok(first + INIT_DAYS as koc_engine::fmt::Day - 1)
}
