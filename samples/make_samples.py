#!/usr/bin/env python3
"""Generate the demo data of koc: the exports of "星途车主社区", 2025-01-01 .. 2025-06-30.

    python3 samples/make_samples.py            # writes next to this script
    python3 samples/make_samples.py OUT_DIR    # writes into OUT_DIR

Standard library only and fully deterministic: a fixed seed, no clock, no
set/dict ordering that depends on hashing, so two runs give byte-identical
files. The files imitate what a community platform really exports, warts
included (several encodings and delimiters, mixed timestamp forms, shuffled
columns, re-deliveries, a few broken rows); `samples/README.md` lists every
deliberately bad row with its file and line and is regenerated with the data.

`pipelines/demo.yaml` is tuned for this data: with `--as-of 2025-06-30` every
tier and layer is populated, some members sit in their grace period, a few
newcomers are flagged and the three goals land in different statuses. Change
the generator and you may have to re-tune the thresholds there.
"""

import codecs
import csv
import datetime as dt
import io
import math
import os
import random
import sys

SEED = 20250630
START = dt.date(2025, 1, 1)
END = dt.date(2025, 6, 30)
DAYS = (END - START).days + 1

CITIES = ["杭州", "上海", "苏州", "南京", "宁波", "合肥", "芜湖", "成都", "重庆", "武汉",
          "长沙", "郑州", "西安", "青岛", "济南", "北京", "天津", "广州", "深圳", "福州"]
PROVINCE = {"杭州": "浙江", "宁波": "浙江", "上海": "上海", "苏州": "江苏", "南京": "江苏",
            "合肥": "安徽", "芜湖": "安徽", "成都": "四川", "重庆": "重庆", "武汉": "湖北",
            "长沙": "湖南", "郑州": "河南", "西安": "陕西", "青岛": "山东", "济南": "山东",
            "北京": "北京", "天津": "天津", "广州": "广东", "深圳": "广东", "福州": "福建"}
MODELS = ["星途瑶光", "星途凌云", "星途追风", "星途揽月", "星纪元ES", "星纪元ET"]
CHANNELS = ["APP"] * 6 + ["小程序"] * 3 + ["官网", "车机"]
TOPICS = ["adas", "ev_charging", "long_drive", "maintenance", "photo", "family", "modding"]
TOPIC_W = [12, 15, 15, 14, 18, 14, 12]
TOPIC_LIKES = {"adas": 1.1, "ev_charging": 1.0, "long_drive": 1.15, "maintenance": 0.8,
               "photo": 1.35, "family": 1.0, "modding": 1.2}
TASK_TYPES = ["video", "photo", "review", "qa", "invite"]
ACTION_LABEL = {"check_in": "签到", "post": "发帖", "featured": "精华", "comment": "评论",
                "task_done": "完成任务", "view": "浏览"}

NICK_A = ["星途", "瑶光", "凌云", "追风", "揽月", "老张", "小李", "阿强", "大刘", "胖虎", "奶爸",
          "宝妈", "自驾", "川藏", "夜骑", "电车", "露营", "钓鱼", "摄影", "江南", "北方", "山城",
          "海边", "草原", "佛系", "硬核", "周末", "通勤", "极客", "萌新"]
NICK_B = ["车主", "老司机", "玩家", "侠", "酱", "哥", "姐", "控", "党", "爱好者", "小王子",
          "观察员", "少年", "大叔", "日记", "研究所", "小队长", "达人", "路人", "旅人"]

# ---------------------------------------------------------------- personas --
# p: chance of an active day; post/comment/task: expected counts on an active
# day; like: median likes of a post; feat: chance a post is marked 精华.
PERSONAS = {
    "lurker":  dict(p=0.04, post=0.02, comment=0.15, task=0.02, like=4,  feat=0.0),
    "casual":  dict(p=0.16, post=0.10, comment=0.35, task=0.08, like=9,  feat=0.0),
    "steady":  dict(p=0.42, post=0.40, comment=0.60, task=0.22, like=22, feat=0.004),
    "star":    dict(p=0.80, post=1.10, comment=1.00, task=0.25, like=70, feat=0.035),
    "fading":  dict(p=0.65, post=0.85, comment=0.80, task=0.22, like=50, feat=0.03),
    "slowing": dict(p=0.60, post=0.70, comment=0.70, task=0.25, like=38, feat=0.018),
    "rising":  dict(p=0.50, post=0.30, comment=0.50, task=0.65, like=24, feat=0.0),
    "dormant": dict(p=0.04, post=0.02, comment=0.10, task=0.05, like=4,  feat=0.0),
}


def poisson(rng, lam):
    if lam <= 0:
        return 0
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= l:
            return k
        k += 1


def daterange(a, b):
    d = a
    while d <= b:
        yield d
        d += dt.timedelta(days=1)


# ------------------------------------------------------------------ members --
def make_members(rng):
    members = []
    mid = 100100
    used_nicks = set()
    n_old, n_new = 235, 165
    joins = []
    for _ in range(n_old):
        d = dt.date(2022, 3, 1) + dt.timedelta(days=rng.randrange((dt.date(2024, 12, 31) - dt.date(2022, 3, 1)).days + 1))
        joins.append(d)
    for _ in range(n_new):
        # newcomers, more of them in spring (the Q2 owner campaign)
        w = rng.random()
        month = 1 + min(5, int((w ** 0.7) * 6))
        last = 31 if month in (1, 3, 5) else 30 if month in (4, 6) else 28
        joins.append(dt.date(2025, month, 1 + rng.randrange(last)))
    joins.sort()
    for i, jd in enumerate(joins):
        mid += rng.randint(1, 7)
        while True:
            nick = rng.choice(NICK_A) + rng.choice(NICK_B)
            if rng.random() < 0.45:
                nick += str(rng.randint(1, 999))
            if nick not in used_nicks:
                used_nicks.add(nick)
                break
        jt = dt.datetime.combine(jd, dt.time(rng.randint(6, 23), rng.randrange(60), rng.randrange(60)))
        if jd < START:
            persona = rng.choices(["lurker", "casual", "steady", "star", "fading", "slowing"],
                                  [34, 26, 21, 5, 8, 6])[0]
        else:
            persona = rng.choices(["rising", "dormant", "casual", "steady"], [30, 38, 22, 10])[0]
        birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(365 * 37))
        city = rng.choice(CITIES)
        purchase = jd - dt.timedelta(days=rng.randint(0, 400))
        members.append(dict(
            id=str(mid), nick=nick, phone="1%d%d****%04d" % (rng.choice([3, 5, 7, 8, 9]), rng.randrange(10), rng.randrange(10000)),
            joined=jt, city=city, model=rng.choice(MODELS), birthday=birth,
            purchase=purchase if rng.random() < 0.85 else None, persona=persona))
    # fading members go quiet at some day between early March and late April
    for m in members:
        if m["persona"] == "fading":
            m["quiet_from"] = dt.date(2025, 3, 1) + dt.timedelta(days=rng.randrange(55))
    return members


# --------------------------------------------------------------- activity --
def month_factor(m, d):
    """How active member m is on day d, relative to their persona."""
    p = m["persona"]
    if p == "fading" and d >= m["quiet_from"]:
        return 0.0
    if p == "slowing":
        if d >= dt.date(2025, 6, 1):
            return 0.12
        if d >= dt.date(2025, 5, 16):
            return 0.45
    f = 1.0
    if d.weekday() >= 5:
        f *= 1.25
    if d.month == 2 and 10 <= d.day <= 20:     # Spring Festival holidays: road trips
        f *= 1.3
    return f


def pick_topic(rng, m, d):
    w = list(TOPIC_W)
    if d >= dt.date(2025, 6, 1) and m["persona"] in ("star", "steady", "slowing", "rising"):
        w[0] = 34                               # June: "智驾体验月" campaign, more adas posts
    return rng.choices(TOPICS, w)[0]


def make_activity(rng, members):
    events = []            # canonical events, local naive datetimes
    post_pool = []         # content ids already published, for comments / views
    cid = 500000
    tid = 800000
    for m in members:
        m["posts"] = []
    for d in daterange(START, END):
        growth = 1.0 + 0.018 * (d.month - 1)   # the community slowly gets more engaged
        for m in members:
            jd = m["joined"].date()
            if d < jd:
                continue
            P = PERSONAS[m["persona"]]
            f = month_factor(m, d)
            first_day = d == jd and jd >= START
            if not first_day and rng.random() >= min(0.97, P["p"] * f):
                if m["persona"] == "fading" and f == 0.0 and rng.random() < 0.04:
                    # quiet members still read now and then (views are ignored by koc)
                    t = dt.datetime.combine(d, dt.time(rng.randint(7, 22), rng.randrange(60), rng.randrange(60)))
                    events.append(dict(t=t, m=m["id"], a="view", content=rng.choice(post_pool) if post_pool else "C500001",
                                       ch=rng.choice(CHANNELS), city=m["city"]))
                continue
            ff = max(f, 0.3)
            t = dt.datetime.combine(d, dt.time(rng.choices(range(24), [1, 1, 1, 1, 1, 2, 4, 8, 9, 7, 6, 6, 7, 6, 5, 5, 6, 7, 8, 10, 11, 10, 6, 3])[0],
                                               rng.randrange(60), rng.randrange(60)))
            if first_day:
                t = max(t, m["joined"])                # nothing happens before registering
            ch = rng.choice(CHANNELS)
            sess = []
            if rng.random() < 0.9:
                sess.append(("check_in", None))
                if rng.random() < 0.03:
                    sess.append(("check_in", None))            # double tap, capped by the rule
            for _ in range(rng.choice([0, 0, 1, 1, 2])):
                sess.append(("view", None))
            for _ in range(poisson(rng, P["post"] * ff)):
                sess.append(("post", None))
            for _ in range(poisson(rng, P["comment"] * ff)):
                sess.append(("comment", None))
            for _ in range(poisson(rng, P["task"] * ff)):
                sess.append(("task_done", None))
            head, rest = sess[:1], sess[1:]
            rng.shuffle(rest)
            for a, _ in head + rest:
                t += dt.timedelta(seconds=rng.randint(40, 900))
                if t.date() != d:
                    break
                e = dict(t=t, m=m["id"], a=a, ch=ch if rng.random() < 0.9 else rng.choice(CHANNELS), city=m["city"])
                if a == "post":
                    cid += 1
                    topic = pick_topic(rng, m, d)
                    med = P["like"] * TOPIC_LIKES[topic] * growth
                    likes = max(0, int(rng.lognormvariate(math.log(med), 0.55)))
                    e.update(topic=topic, content="C%d" % cid, likes=likes,
                             comments=int(likes * rng.uniform(0.1, 0.4)),
                             shares=int(likes * rng.uniform(0.0, 0.12)),
                             views=int(likes * rng.uniform(18, 45)) + rng.randint(20, 200))
                    m["posts"].append(e)
                    post_pool.append(e["content"])
                    if P["feat"] and likes >= med * 1.1 and rng.random() < P["feat"] * 3.2:
                        ft = t + dt.timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 5))
                        ft = ft.replace(hour=rng.randint(10, 17))
                        if ft.date() <= END and month_factor(m, ft.date()) > 0:
                            events.append(dict(t=ft, m=m["id"], a="featured", content=e["content"], ch="官网", city=m["city"]))
                elif a == "comment":
                    e["content"] = rng.choice(post_pool[-400:]) if post_pool else "C500001"
                elif a == "view":
                    e["content"] = rng.choice(post_pool[-800:]) if post_pool else "C500001"
                elif a == "task_done":
                    tid += 1
                    if m["persona"] == "rising":
                        # explorers: newcomers try several kinds, some settle on one
                        fav = m.setdefault("fav_task", rng.choice(TASK_TYPES))
                        tt = fav if rng.random() < 0.55 else rng.choice(TASK_TYPES)
                    else:
                        tt = rng.choices(TASK_TYPES, [2, 3, 3, 2, 1])[0]
                    e.update(task=tt, content="T%d" % tid, likes=rng.randint(0, 12), comments=rng.randint(0, 3))
                events.append(e)
    # a few events from members not in members.csv (joined after the member export)
    ghosts = ["199001", "199002", "199003"]
    for i, g in enumerate(ghosts):
        d0 = dt.date(2025, 6, 10 + 5 * i)
        for k in range(4 + 2 * i):
            d = d0 + dt.timedelta(days=k)
            if d > END:
                break
            t = dt.datetime.combine(d, dt.time(20, 10 + k, 5 * i))
            events.append(dict(t=t, m=g, a="check_in", ch="APP", city="上海"))
            if k % 2 == 1:
                cid += 1
                likes = rng.randint(2, 30)
                events.append(dict(t=t + dt.timedelta(minutes=7), m=g, a="post", ch="APP", city="上海",
                                   topic=rng.choice(TOPICS), content="C%d" % cid, likes=likes,
                                   comments=likes // 4, shares=likes // 10, views=likes * 25 + 40))
    events.sort(key=lambda e: (e["t"], e["m"], e["a"]))
    eid = 31000000
    for e in events:
        eid += rng.randint(1, 3)
        e["id"] = str(eid)
    return events


# ------------------------------------------------------------- file writing --
ACT_HEAD_STD = ["事件ID", "用户ID", "发生时间", "行为", "话题", "任务类型", "内容ID", "渠道", "点赞", "评论", "转发", "阅读量"]
ACT_HEAD_ALT = ["事件ID", "发生时间", "用户ID", "行为", "内容ID", "话题", "任务类型", "点赞", "评论", "转发", "阅读量", "渠道", "IP属地"]
ACT_HEAD_IP = ACT_HEAD_STD + ["IP属地"]


def fmt_time(t, style):
    if style == "dash":
        return t.strftime("%Y-%m-%d %H:%M:%S")
    if style == "slash":
        return t.strftime("%Y/%m/%d %H:%M")
    if style == "iso8":
        return t.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    if style == "isoz":
        return (t - dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise ValueError(style)


def event_cells(e, style):
    def n(k):
        return "" if e.get(k) is None else str(e[k])
    return {"事件ID": e["id"], "用户ID": e["m"], "发生时间": fmt_time(e["t"], style),
            "行为": ACTION_LABEL[e["a"]], "话题": e.get("topic", ""), "任务类型": e.get("task", ""),
            "内容ID": e.get("content", ""), "渠道": e["ch"], "点赞": n("likes"), "评论": n("comments"),
            "转发": n("shares"), "阅读量": n("views"), "IP属地": PROVINCE.get(e.get("city"), "未知")}


class Sheet:
    """Rows of one output file, with the physical line of every record."""

    def __init__(self, header, delimiter=",", crlf=False):
        self.header, self.delimiter = header, delimiter
        self.term = "\r\n" if crlf else "\n"
        self.rows = []                 # (list of cells, note or None)

    def add(self, cells, note=None):
        self.rows.append((cells, note))

    def render(self):
        out = []
        for cells in [self.header] + [c for c, _ in self.rows]:
            buf = io.StringIO()
            csv.writer(buf, delimiter=self.delimiter, lineterminator=self.term).writerow(cells)
            out.append(buf.getvalue())
        line = 2
        notes = []
        for (cells, note), text in zip(self.rows, out[1:]):
            if note:
                notes.append((line, note))
            line += text.count("\n")
        return "".join(out), notes


def encode(text, enc):
    if enc == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    if enc == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    return text.encode(enc)


# bad activity rows: the kinds, used in turn
BAD_KINDS = ["timestamp", "neg_likes", "abc_likes", "unknown_action", "empty_member", "short_row"]


def corrupt(rng, e, kind, header, style):
    cells = event_cells(e, style)
    if kind == "timestamp":
        cells["发生时间"] = "2025/13/01 10:00"
        why = "unparseable timestamp '2025/13/01 10:00'"
    elif kind == "neg_likes":
        cells["点赞"] = "-%d" % rng.randint(1, 9)
        why = "likes %s is negative" % cells["点赞"]
    elif kind == "abc_likes":
        cells["点赞"] = "abc"
        why = "likes 'abc' is not an integer"
    elif kind == "unknown_action":
        cells["行为"] = "分享"
        why = "unknown action '分享'"
    elif kind == "empty_member":
        cells["用户ID"] = ""
        why = "empty member_id (用户ID)"
    else:
        row = [cells[h] for h in header][:5]
        return row, "too few fields (%d of %d)" % (len(row), len(header))
    return [cells[h] for h in header], why


ACTIVITY_FILES = {
    # month: (header, delimiter, crlf, encoding, timestamp style, description)
    1: (ACT_HEAD_STD, ",", False, "utf-8-sig", "dash", "UTF-8 with BOM, comma"),
    2: (ACT_HEAD_IP, ",", False, "gbk", "dash", "GBK, comma, extra column IP属地"),
    3: (ACT_HEAD_STD, "\t", True, "utf-16", "dash", "UTF-16 LE with BOM, TAB, CRLF (Excel \"Unicode text\")"),
    4: (ACT_HEAD_IP, ",", False, "utf-8", "slash", "UTF-8, comma, timestamps %Y/%m/%d %H:%M"),
    5: (ACT_HEAD_ALT, ",", False, "utf-8", "dash", "UTF-8, comma, columns in another order"),
    6: (ACT_HEAD_IP, ",", False, "utf-8", "dash", "UTF-8, comma, extra column IP属地"),
}


def write_activity(rng, events, outdir, report):
    adir = os.path.join(outdir, "activity")
    os.makedirs(adir, exist_ok=True)
    by_month = {}
    for e in events:
        by_month.setdefault(e["t"].month, []).append(e)
    april_posts = []
    for month in sorted(by_month):
        header, delim, crlf, enc, style, desc = ACTIVITY_FILES[month]
        sheet = Sheet(header, delim, crlf)
        evs = by_month[month]
        n_bad = max(6, len(evs) * 3 // 1000)
        # spread bad rows evenly, on posts (so that likes exist) and after the first 100 rows
        post_idx = [i for i, e in enumerate(evs) if e["a"] == "post" and i > 100]
        step = len(post_idx) // n_bad
        bad_at = {post_idx[k * step + step // 2]: BAD_KINDS[(k + month) % len(BAD_KINDS)] for k in range(n_bad)}
        for i, e in enumerate(evs):
            st = style
            if e["a"] != "view" and rng.random() < 0.006:
                st = rng.choice(["iso8", "isoz"])
            if i in bad_at:
                # the bad row is an extra (broken) copy of a good one with its own id
                bad = dict(e)
                bad["id"] = "9" + e["id"]
                cells, why = corrupt(rng, bad, bad_at[i], header, st)
                sheet.add(cells, (bad["id"], why))
            if style == "slash":
                e["t"] = e["t"].replace(second=0)       # what the file can say
            c = event_cells(e, st)
            sheet.add([c[h] for h in header])
            if month == 4 and e["a"] == "post":
                april_posts.append(e)
        text, notes = sheet.render()
        name = "activity_2025%02d.csv" % month
        with open(os.path.join(adir, name), "wb") as f:
            f.write(encode(text, enc))
        report.append(dict(file="activity/" + name, desc=desc, rows=len(sheet.rows),
                           bad=[(line, eid, why) for line, (eid, why) in notes]))
    # the April re-delivery: the same posts again, with grown counts, plus a few unchanged rows
    sheet = Sheet(ACT_HEAD_ALT)
    chosen = sorted(rng.sample(range(len(april_posts)), 56))
    for k, i in enumerate(chosen):
        e = april_posts[i]
        if k % 10 == 3:
            st = "slash" if k % 20 == 3 else "dash"     # identical values, half of them in another timestamp form
        else:
            grow = rng.uniform(1.15, 2.2)
            e["likes"] = int(e["likes"] * grow) + rng.randint(1, 5)
            e["comments"] = int(e["comments"] * grow) + rng.randint(0, 3)
            e["shares"] = int(e["shares"] * grow) + rng.randint(0, 1)
            e["views"] = int(e["views"] * grow) + rng.randint(50, 400)
            e["resent"] = True
            st = "dash" if k % 7 else "isoz"
        c = event_cells(e, st)
        sheet.add([c[h] for h in ACT_HEAD_ALT])
    text, _ = sheet.render()
    with open(os.path.join(adir, "activity_202504_resend.csv"), "wb") as f:
        f.write(encode(text, "utf-8"))
    report.append(dict(file="activity/activity_202504_resend.csv",
                       desc="UTF-8, comma, columns in another order: April posts re-delivered (same 事件ID)",
                       rows=len(sheet.rows), bad=[]))


def write_members(rng, members, outdir, report):
    sheet = Sheet(["用户ID", "昵称", "手机号", "注册时间", "城市", "车型", "生日", "购车日期"])
    n = len(members)
    specials = {
        17: ("nick", "<script>alert(1)</script>"),
        41: ("nick", "=1+1 改装党"),
        66: ("nick", '老王,"爱自驾",星途'),
        90: ("nick", ""), 151: ("nick", ""), 263: ("nick", ""), 341: ("nick", ""),
        33: ("birthday", None), 120: ("birthday", None), 222: ("birthday", None), 300: ("birthday", None),
        58: ("birthday", dt.date(1992, 2, 29)), 207: ("birthday", dt.date(1988, 2, 29)),
    }
    bad_row = 188
    for i, m in enumerate(members):
        if i in specials:
            k, v = specials[i]
            m[k] = v
        jt = m["joined"]
        jstyle = "%Y-%m-%d %H:%M:%S" if rng.random() < 0.7 else "%Y/%m/%d %H:%M"
        if jstyle.endswith("%H:%M"):
            m["joined"] = jt = jt.replace(second=0)

        def dfmt(x):
            if x is None:
                return ""
            return x.strftime("%Y-%m-%d") if rng.random() < 0.6 else "%d/%d/%d" % (x.year, x.month, x.day)
        joined_text = jt.strftime(jstyle)
        note = None
        if i == bad_row:
            # an impossible calendar date: the row is rejected (the member still shows up through events)
            joined_text = "2024-02-30 10:00:00"
            note = (m["id"], "impossible date in 注册时间 '2024-02-30 10:00:00'")
            m["rejected"] = True
        sheet.add([m["id"], m["nick"], m["phone"], joined_text, m["city"], m["model"], dfmt(m["birthday"]),
                   dfmt(m["purchase"])], note)
    text, notes = sheet.render()
    with open(os.path.join(outdir, "members.csv"), "wb") as f:
        f.write(encode(text, "utf-8-sig"))
    report.append(dict(file="members.csv", desc="UTF-8 with BOM, comma", rows=n,
                       bad=[(line, k, why) for line, (k, why) in notes]))


# ------------------------------------------------- points (for redemptions) --
# A small re-implementation of the demo pipeline's point rules, used only to
# pick redemptions that members can (or, on purpose, cannot) afford.
RULES = [
    # id, action, points, rule daily cap, max_times, condition, per(field, every, points), max_per_event
    ("check_in", "check_in", 2, 2, None, None, None, None),
    ("post", "post", 40, 120, None, None, None, None),
    ("first_post", "post", 200, None, 1, None, None, None),
    ("adas_post", "post", 30, None, None, lambda e: e.get("topic") == "adas", None, None),
    ("road_trip_post", "post", 20, None, None,
     lambda e: e.get("topic") in ("ev_charging", "long_drive") and e.get("likes", 0) >= 30, None, None),
    ("likes_bonus", "post", None, None, None, None, ("likes", 10, 2), 60),
    ("comment", "comment", 2, 20, None, None, None, None),
    ("newbie_task", "task_done", 80, None, 3, None, None, None),
    ("task", "task_done", 30, 90, None, None, None, None),
    ("video_task", "task_done", 50, None, None, lambda e: e.get("task") == "video", None, None),
    ("featured", "featured", 500, None, None, None, None, None),
]
PROGRAM_DAILY_CAP = 800
EXPIRY_DAYS = 150


def award_points(events, rules=RULES, program_cap=PROGRAM_DAILY_CAP):
    """Ledger entries (event, rule id, awarded) in koc's order; events must be canonical."""
    ledger = []
    per_member = {}
    for e in events:
        if e["a"] != "view":
            per_member.setdefault(e["m"], []).append(e)
    for mid in sorted(per_member):
        times, day_rule, day_all = {}, {}, {}
        for e in sorted(per_member[mid], key=lambda e: (e["t"], e["id"])):
            d = e["t"].date()
            for rid, action, pts, rcap, maxt, cond, per, mpe in rules:
                if action != e["a"] or (cond and not cond(e)):
                    continue
                raw = pts if per is None else (e.get(per[0]) or 0) // per[1] * per[2]
                if mpe is not None:
                    raw = min(raw, mpe)
                if raw <= 0:
                    continue
                aw = raw
                if maxt is not None and times.get(rid, 0) >= maxt:
                    aw = 0
                if rcap is not None:
                    aw = min(aw, rcap - day_rule.get((rid, d), 0))
                if program_cap is not None:
                    aw = min(aw, program_cap - day_all.get(d, 0))
                aw = max(aw, 0)
                if aw > 0:
                    times[rid] = times.get(rid, 0) + 1
                day_rule[(rid, d)] = day_rule.get((rid, d), 0) + aw
                day_all[d] = day_all.get(d, 0) + aw
                ledger.append((e, rid, aw))
    return ledger


CATALOG = [("品牌贴纸", 100), ("钥匙扣", 300), ("车载香氛", 800), ("保养券", 2000), ("精品车模", 6000)]


def write_redemptions(rng, members, events, outdir, report):
    ledger = award_points(events)
    lots = {}
    for e, rid, aw in ledger:
        if aw > 0:
            lots.setdefault(e["m"], []).append([e["t"], aw])

    def spendable(mid, t):
        return sum(a for (ot, a) in lots.get(mid, [])
                   if ot <= t and (ot.date() + dt.timedelta(days=EXPIRY_DAYS)) >= t.date())

    def spend(mid, t, cost):
        for lot in lots.get(mid, []):
            if lot[0] <= t and (lot[0].date() + dt.timedelta(days=EXPIRY_DAYS)) >= t.date() and cost > 0:
                take = min(lot[1], cost)
                lot[1] -= take
                cost -= take

    earners = sorted({e["m"] for e, _, aw in ledger if aw > 0})
    rows = []
    rid = 88000
    plan = []
    for k in range(82):
        day = START + dt.timedelta(days=20 + (k * (DAYS - 21)) // 82)
        plan.append(dt.datetime.combine(day, dt.time(rng.randint(8, 22), rng.randrange(60), rng.randrange(60))))
    trouble = {9: "unknown_item", 47: "unknown_item", 23: "wrong_price", 14: "broke", 31: "broke", 55: "broke",
               70: "broke", 76: "stranger"}
    for k, t in enumerate(plan):
        rid += rng.randint(1, 9)
        kind = trouble.get(k, "ok")
        if kind == "stranger":
            rows.append(("DH%d" % rid, "199999", t, "品牌贴纸", 100))
            continue
        rich = [m for m in earners if spendable(m, t) >= 100]
        if kind == "broke":
            poor = [m for m in earners if 0 < spendable(m, t) < 1500]
            item = rng.choice(["保养券", "精品车模"])
            rows.append(("DH%d" % rid, rng.choice(poor), t, item, dict(CATALOG)[item]))
            continue
        mid = rng.choice(rich)
        bal = spendable(mid, t)
        if kind == "unknown_item":
            item = "𠮷野家联名保温杯" if k == 9 else "车载冰箱"
            rows.append(("DH%d" % rid, mid, t, item, 1500))
            continue
        if kind == "wrong_price":
            rows.append(("DH%d" % rid, mid, t, "钥匙扣", 350))
            continue
        affordable = [(n, c) for n, c in CATALOG if c <= bal * 0.8]
        if not affordable:
            affordable = CATALOG[:1]
        # people save up for the expensive things, most take the cheap ones
        weights = [5, 4, 3, 2.5, 2][:len(affordable)]
        item, cost = rng.choices(affordable, weights)[0]
        if cost <= bal:
            spend(mid, t, cost)
        rows.append(("DH%d" % rid, mid, t, item, cost))
    sheet = Sheet(["兑换单号", "用户ID", "兑换时间", "商品名称", "消耗积分"])
    for r in rows:
        sheet.add([r[0], r[1], r[2].strftime("%Y-%m-%d %H:%M:%S"), r[3], str(r[4])])
    text, _ = sheet.render()
    with open(os.path.join(outdir, "redemptions.csv"), "wb") as f:
        f.write(encode(text, "gb18030"))
    report.append(dict(file="redemptions.csv", desc="GB18030, comma", rows=len(rows), bad=[]))
    return rows


# ----------------------------------------------------------------- contest --
TITLES = ["雪山脚下的瑶光", "山,海,与你", "🚗 长路漫漫", "草原上的星空", "城市夜行", "落日余晖", "雨后的揽月",
          "🌅 日照金山, 与凌云同框", "带娃去露营 ⛺", "追风少年的第 1000 公里", "\"星\"光大道", "秋名山上的追风",
          "海岸线 🌊", "归途", "充电桩旁的晚霞", "一路向西,川藏线", "洱海边的清晨", "车库里的改装日记",
          "春节回家路", "雾中的凌云", "沙漠与星辰 ✨", "樱花大道", "城市的另一面", "父亲的第一台车",
          "灯火阑珊处", "云端之上", "暴雨夜归", "湖面倒影", "星途,星途", "隧道尽头的光", "麦田守望"]
JUDGES = ["陈光明", "严立", "刘平"]          # lenient, harsh, gives nearly everyone the same


def write_contest(rng, members, events, outdir, report, layer_hint):
    byid = {m["id"]: m for m in members}
    photo_posts = {}
    for e in events:
        if e["a"] == "post" and e["topic"] == "photo":
            photo_posts.setdefault(e["m"], []).append(e)
    # contestants: members with photo posts in March..June; mostly established, a few newcomers
    cands = sorted(mid for mid, ps in photo_posts.items()
                   if mid in byid and any(dt.date(2025, 3, 10) <= p["t"].date() <= dt.date(2025, 5, 28) for p in ps))
    est = [c for c in cands if layer_hint(c) in ("active", "core", "alumni")]
    new = [c for c in cands if layer_hint(c) == "newcomer"]
    chosen = rng.sample(est, 27) + rng.sample(new, 3)
    rng.shuffle(chosen)
    entries = []
    for i, mid in enumerate(chosen):
        ps = [p for p in photo_posts[mid] if dt.date(2025, 3, 10) <= p["t"].date() <= dt.date(2025, 5, 28)]
        if i in (0, 1, 2, 3, 4):
            if i < 3:              # before the window opens
                sub = dt.datetime(2025, 3, 20 + 3 * i, 21, 15 + i, 7)
            else:                  # after it closed
                sub = dt.datetime(2025, 6, 2 + 5 * i, 9, 30, 41)
            ps = [p for p in photo_posts[mid] if p["t"] < sub] or photo_posts[mid]
            p = ps[-1]
        else:
            p = rng.choice(ps)
            sub = p["t"] + dt.timedelta(hours=rng.randint(1, 48), minutes=rng.randrange(60), seconds=rng.randrange(60))
        if 4 < i and sub.date() < dt.date(2025, 4, 1):
            sub = dt.datetime(2025, 4, 1, 8) + dt.timedelta(minutes=rng.randrange(60 * 24 * 20), seconds=rng.randrange(60))
        content = p["content"] if p["t"] <= sub else ""
        if i == 7:
            content = ""           # submitted without linking a post: engagement counts as 0
        entries.append(dict(m=mid, t=sub, content=content, title=TITLES[i], est=mid in est))
    # one member sends a second work (over the limit of one)
    twice = next(x for x in entries[5:] if x["content"] and x["est"] and x["t"].date() <= dt.date(2025, 5, 25))
    later = [p for p in photo_posts[twice["m"]] if p["content"] != twice["content"] and p["t"] < twice["t"]]
    entries.append(dict(m=twice["m"], t=twice["t"] + dt.timedelta(days=2, minutes=13),
                        content=later[-1]["content"] if later else twice["content"], title=TITLES[30], est=True))
    entries.sort(key=lambda x: (x["t"], x["m"]))
    sheet = Sheet(["作品ID", "赛事ID", "用户ID", "提交时间", "内容ID", "作品标题"])
    for k, x in enumerate(entries):
        x["id"] = "PH25-%04d" % (k + 1)
        sheet.add([x["id"], "photo-2025", x["m"], x["t"].strftime("%Y-%m-%d %H:%M:%S"), x["content"], x["title"]])
    text, _ = sheet.render()
    with open(os.path.join(outdir, "contest_entries.csv"), "wb") as f:
        f.write(encode(text, "utf-8"))
    report.append(dict(file="contest_entries.csv", desc="UTF-8, comma (titles with commas, quotes, emoji)",
                       rows=len(entries), bad=[]))

    # judges: latent quality per entry; one lenient, one harsh, one flat
    sheet = Sheet(["赛事ID", "作品ID", "评委", "评分项", "分数"], delimiter=";")
    # only one judge got round to this one (an eligible entry, so it ends as insufficient_judges)
    lonely = next(x["id"] for x in entries[15:] if x["est"] and x["m"] != twice["m"]
                  and dt.date(2025, 4, 1) <= x["t"].date() <= dt.date(2025, 5, 31))
    lonely_k = [x["id"] for x in entries].index(lonely)
    for k, x in enumerate(entries):
        q = rng.gauss(0, 1)
        for j in JUDGES:
            if x["id"] == lonely and j != JUDGES[0]:
                continue
            for crit in ["creativity", "technique", "brand_fit"]:
                qq = q + rng.gauss(0, 0.6)
                if j == "陈光明":
                    s = min(10, max(5, round((7.8 + 0.9 * qq) * 2) / 2))
                elif j == "严立":
                    s = min(9, max(1, round(4.2 + 1.6 * qq)))
                else:
                    s = 7 if (k in (5, 19) and crit == "technique") else 6
                note = None
                if j == "陈光明" and k == 12 and crit == "technique":
                    s, note = 11, "%s/%s/%s: out_of_scale (score 11, scale 1..10)" % (x["id"], j, crit)
                sheet.add(["photo-2025", x["id"], j, crit, ("%g" % s)], note)
        if k == 8:
            sheet.add(["photo-2025", x["id"], "严立", "composition", "5"],
                      "%s/严立/composition: unknown_criterion" % x["id"])
        if k == lonely_k + 2:
            sheet.add(["photo-2025", x["id"], "刘平", "engagement", "8"],
                      "%s/刘平/engagement: from_data_criterion" % x["id"])
    sheet.add(["photo-2025", "PH25-0999", "陈光明", "creativity", "9"], "PH25-0999/陈光明/creativity: unknown_entry")
    text, notes = sheet.render()
    with open(os.path.join(outdir, "judge_scores.csv"), "wb") as f:
        f.write(encode(text, "utf-8"))
    report.append(dict(file="judge_scores.csv", desc="UTF-8, semicolon", rows=len(sheet.rows),
                       bad=[(line, why.split(": ")[0], why.split(": ")[1]) for line, why in notes],
                       note="rejected by the contest (contest_photo-2025_rejects.csv), not at ingest; "
                            "entry %s has only one judge" % lonely))
    return entries


# -------------------------------------------------------- feedback, overrides --
FEEDBACK = {
    # incentive: (ratings, comments); the ratings are fixed so that the report's
    # recommendations come out as intended (see pipelines/demo.yaml, goals)
    "video_fund": ([5, 4, 5, 4, 3, 5, 4, 5, 4, 5, 4, 4],
                   ["视频基金很给力，剪辑软件会员也报销了", "希望能多给新人一点曝光",
                    "拍了三期长测视频，收益和流量都不错", "申请流程可以再简化"]),
    "long_drive_challenge": ([5, 5, 4, 4, 3, 5, 4, 5, 4, 5],
                             ["川藏线打卡太有意义了！", "路线设计得很用心,就是补给点少",
                              "和车友一起跑长途，很开心", ""]),
    "photo_contest": ([4, 5, 3, 4, 5, 4, 2, 4, 5, 4, 5],
                      ["评委打分标准能否公开？", "奖品很香，车模已经摆在桌上了",
                       "希望增加手机组", "作品展示页面太小了"]),
    "care_gift": ([3, 4, 3, 2, 4, 3, 5, 3, 4],
                  ["生日祝福收到了，礼物一般般", "保养券很实用", "关怀礼物到得太晚了",
                   "希望能选礼物\n比如换成充电卡"]),
    "newbie_gift": ([2, 3, 3, 2, 4, 2, 3, 1],
                    ["新手任务有点多，看不懂", "规则有点复杂，看了两遍才懂",
                     "礼包里的贴纸质量不错", "<b>积分</b>到账太慢"]),
    "tech_qa_bounty": ([2, 1, 3, 2, 2, 4, 1, 3, 2, 1],
                       ["问题太难了，悬赏积分太少", "回答被采纳后积分一直没到账",
                        "=技术大佬才有机会", "专家回复很专业，但奖励不值得花时间"]),
}


def write_feedback(rng, members, events, outdir, report):
    listed = {m["id"] for m in members}
    active_ids = sorted({e["m"] for e in events if e["a"] != "view" and e["m"] in listed})
    rows = []
    for inc in sorted(FEEDBACK):
        ratings, comments = FEEDBACK[inc]
        for i, rating in enumerate(ratings):
            t = dt.datetime.combine(START + dt.timedelta(days=rng.randrange(DAYS)),
                                    dt.time(rng.randint(8, 23), rng.randrange(60), rng.randrange(60)))
            c = comments[i] if i < len(comments) else (rng.choice(["", "", "还行", "不错", "继续加油", "希望奖励更丰富"]))
            rows.append([t, rng.choice(active_ids), inc, rating, c])
    rows.sort(key=lambda r: r[0])
    sheet = Sheet(["问卷编号", "用户ID", "提交时间", "激励项目", "评分", "意见"])
    for k, r in enumerate(rows):
        sheet.add(["FB%05d" % (k + 1), r[1], r[0].strftime("%Y-%m-%d %H:%M:%S"), r[2], str(r[3]), r[4]])
    text, _ = sheet.render()
    with open(os.path.join(outdir, "feedback.csv"), "wb") as f:
        f.write(encode(text, "utf-8-sig"))
    report.append(dict(file="feedback.csv", desc="UTF-8 with BOM, comma (one comment spans two lines)",
                       rows=len(rows), bad=[]))


def write_overrides(members, outdir, report):
    by_p = {}
    for m in members:
        by_p.setdefault(m["persona"], []).append(m)
    steady = [m for m in by_p["steady"] if m["joined"].date() < START]
    rows = [
        [steady[3]["id"], "core", "2025-04-15", "2025-05-20", "车展期间临时核心伙伴"],
        [by_p["lurker"][5]["id"], "alumni", "2025/3/1", "", "品牌老友，授予荣誉校友"],
        [by_p["rising"][2]["id"], "active", "2025-06-01", "2025-07-31", "内容共创观察期"],
        [by_p["star"][1]["id"], "newcomer", "2025-06-20", "2025-07-20", "违规内容处理，暂停核心权益"],
    ]
    sheet = Sheet(["用户ID", "分层", "生效日期", "截止日期", "原因"])
    for r in rows:
        sheet.add(r)
    text, _ = sheet.render()
    with open(os.path.join(outdir, "overrides.csv"), "wb") as f:
        f.write(encode(text, "utf-8"))
    report.append(dict(file="overrides.csv", desc="UTF-8, comma", rows=len(rows), bad=[]))
    return rows


# ------------------------------------------------------------ growth path --
def write_growth(members, events, outdir, report):
    """Project teams and mentorships (the growth path: collaborate, lead). A generator
    of its own, so the other files stay byte-identical."""
    rng = random.Random(SEED + 15)
    posts = {}
    for e in events:
        if e["a"] == "post":
            posts[e["m"]] = posts.get(e["m"], 0) + 1
    by_p = {}
    for m in members:
        by_p.setdefault(m["persona"], []).append(m)
    veterans = sorted((m for m in by_p["steady"] + by_p["star"] if m["joined"].date() < START),
                      key=lambda m: (-posts.get(m["id"], 0), m["id"]))
    rising = [m for m in by_p["rising"]]
    projects = [("T2501", "充电地图共建", "2025-02-28"), ("T2502", "川藏线自驾攻略", "2025/4/18"),
                ("T2503", "改装合规手册", "2025-06-06"), ("T2504", "五分钟车型纪录片", "")]
    roles = ["script", "video", "tech", "photo"]
    pool = veterans[:24]
    rng.shuffle(pool)
    rows = []
    for k, (team, project, done) in enumerate(projects):
        size = 3 if k % 2 else 4
        for j in range(size):
            m = pool[(k * 3 + j) % len(pool)]
            rows.append([team, m["id"], roles[j], project, done])
    # a newcomer joins the documentary team (still open: busy)
    rows.append(["T2504", rising[0]["id"], "photo", "五分钟车型纪录片", ""])
    sheet = Sheet(["团队ID", "用户ID", "角色", "项目", "完成日期"])
    for r in rows:
        sheet.add(r)
    text, _ = sheet.render()
    with open(os.path.join(outdir, "teams.csv"), "wb") as f:
        f.write(encode(text, "utf-8-sig"))
    report.append(dict(file="teams.csv", desc="UTF-8 with BOM, comma (dates in both forms; open teams have no 完成日期)",
                       rows=len(rows), bad=[]))

    mentors = veterans[:6]
    mrows = []
    for k, mentee in enumerate(rising[1:11]):
        mentor = mentors[k % len(mentors)]
        start = dt.date(2025, 3, 1) + dt.timedelta(days=rng.randrange(100))
        until = "" if k % 3 else (start + dt.timedelta(days=rng.randint(30, 90))).strftime("%Y-%m-%d")
        frm = "%d/%d/%d" % (start.year, start.month, start.day) if k % 4 == 1 else start.strftime("%Y-%m-%d")
        mrows.append([mentor["id"], mentee["id"], frm, until])
    sheet = Sheet(["导师ID", "学员ID", "开始日期", "结束日期"])
    for r in mrows:
        sheet.add(r)
    text, _ = sheet.render()
    with open(os.path.join(outdir, "mentorships.csv"), "wb") as f:
        f.write(encode(text, "utf-8"))
    report.append(dict(file="mentorships.csv", desc="UTF-8, comma (empty 结束日期: open-ended)",
                       rows=len(mrows), bad=[]))


# ------------------------------------------------------------------- main --
def rough_layer(events):
    """A cheap guess of each member's layer at 2025-06-30, to choose contestants."""
    posts, feats, last = {}, {}, {}
    for e in events:
        if e["a"] == "view":
            continue
        last[e["m"]] = max(last.get(e["m"], e["t"].date()), e["t"].date())
        if e["a"] == "post" and e["t"].date() > dt.date(2025, 4, 1):
            posts[e["m"]] = posts.get(e["m"], 0) + 1
        if e["a"] == "featured":
            feats[e["m"]] = feats.get(e["m"], 0) + 1

    def layer(mid):
        if feats.get(mid, 0) and last.get(mid, START) < dt.date(2025, 5, 10):
            return "alumni"
        if posts.get(mid, 0) >= 6:
            return "active"
        if posts.get(mid, 0) <= 1:
            return "newcomer"
        return "?"
    return layer


def build(outdir):
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(SEED)
    report = []
    members = make_members(rng)
    events = make_activity(rng, members)
    write_members(rng, members, outdir, report)
    write_activity(rng, events, outdir, report)        # also applies the April re-delivery to `events`
    redemptions = write_redemptions(rng, members, events, outdir, report)
    entries = write_contest(rng, members, events, outdir, report, rough_layer(events))
    write_feedback(rng, members, events, outdir, report)
    overrides = write_overrides(members, outdir, report)
    write_growth(members, events, outdir, report)
    write_readme(outdir, report, events)
    return dict(members=members, events=events, redemptions=redemptions, entries=entries, overrides=overrides)


def write_readme(outdir, report, events):
    n_views = sum(1 for e in events if e["a"] == "view")
    out = ["# Demo data: 星途车主社区, 2025-01-01 .. 2025-06-30",
           "",
           "Generated by `make_samples.py` (Python 3, standard library, fixed seed: running it again",
           "gives byte-identical files). Do not edit by hand; change the script and re-run it.",
           "`../pipelines/demo.yaml` reads these files; its thresholds are tuned for them",
           "(`koc run pipelines/demo.yaml --as-of 2025-06-30`).",
           "",
           "| file | encoding and form | data rows |",
           "|---|---|---|"]
    for r in report:
        out.append("| `%s` | %s | %d |" % (r["file"], r["desc"], r["rows"]))
    out += ["",
            "Activity: %d events in the monthly files (broken rows not counted), %d of them `浏览`" % (len(events), n_views),
            "(views, ignored on purpose by `ingest.ignore_actions`). Members `199001`..`199003` appear only in activity",
            "(known members from events); `199999` appears only in a redemption (refused).",
            "A few activity rows per month carry ISO 8601 timestamps (`+08:00` or `Z`).",
            "`activity_202504_resend.csv` re-delivers 56 April posts in another column order:",
            "50 with grown counts (`updated`) and 6 with the same values (`unchanged`), three of",
            "those written as `%Y-%m-%d %H:%M:%S` instead of the April file's `%Y/%m/%d %H:%M`.",
            "",
            "## Deliberately bad rows",
            "",
            "Lines are physical lines of the file, the header being line 1.",
            "The broken activity rows are extra copies of real events with their own",
            "事件ID (`9` + the id), so rejecting them loses nothing.",
            "",
            "| file | line | key | expected reason |",
            "|---|---|---|---|"]
    for r in report:
        for line, key, why in r["bad"]:
            out.append("| `%s` | %d | %s | %s |" % (r["file"], line, key, why))
    out.append("")
    for r in report:
        if r.get("note"):
            out.append("`%s`: %s." % (r["file"], r["note"]))
    out += ["",
            "Not rejected at ingest but refused later: in `redemptions.csv` two unknown items",
            "(`𠮷野家联名保温杯` needs GB18030, not GBK; `车载冰箱`), one wrong price (钥匙扣 at 350),",
            "a few members who cannot afford what they order, one redemption of an unknown member.",
            "In `members.csv`: empty nicknames and birthdays, birthdays on 29 February,",
            "nicknames `<script>alert(1)</script>`, `=1+1 改装党` and `老王,\"爱自驾\",星途`.",
            "",
            "## What the demo is meant to show (as of 2025-06-30)",
            "",
            "Member personas: lurkers, casual members, steady posters, a few star creators",
            "(featured posts), members who go quiet between March and late April (they end as",
            "荣誉校友), members who slow down from mid-May (several sit in their tier's grace",
            "period), and 2025 newcomers who either explore many task types or stay dormant.",
            "A rough independent re-computation gives about: tiers 219 bronze / 135 silver /",
            "41 gold / 8 diamond, ~27 members in grace; layers 243 newcomer / 125 active /",
            "19 core / 16 alumni; 109 scouting candidates, 12 flagged; contest: 21 ranked,",
            "5 ineligible_window, 3 ineligible_layer, 1 over_limit, 1 insufficient_judges;",
            "goals: adas_depth on_track, post_engagement behind, maintenance_help at_risk;",
            "incentives: video_fund and long_drive_challenge scale_up, photo_contest adjust,",
            "tech_qa_bounty replace, care_gift keep, newbie_gift adjust; redemptions: 74 ok,",
            "5 insufficient_balance, 2 unknown_item, 1 wrong_price. Treat these as",
            "expectations for a sanity check, not as test oracles.",
            ""]
    with open(os.path.join(outdir, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    build(target)
