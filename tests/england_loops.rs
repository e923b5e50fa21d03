//! The England model's five feedback loops, each shown by the behaviour it
//! must produce (docs/model.md, "The five feedback loops").

use carecascade::Program;
use carecascade::project;

fn projection(sets: &[(&str, f64)]) -> project::Projection {
    let model = carecascade::england();
    let program = Program::compile(&model).unwrap();
    let mut state = program.state();
    for (name, value) in sets {
        state.set(name, *value).unwrap();
    }
    project::project_state(&mut state, 2023, 10).unwrap()
}

fn get(p: &project::Projection, column: &str, year: i32) -> f64 {
    p.get(column, year)
        .unwrap_or_else(|| panic!("{column} {year}"))
}

/// Loops 1 and 5: extra prevention spend first raises referrals (early help
/// uncovers needs), then lowers referrals, plans and entries to care.
#[test]
fn prevention_detects_first_then_prevents() {
    let base = projection(&[]);
    let invest = projection(&[("extra prevention spend", 500.0)]);
    // Capacity arrives after the implementation delay.
    assert!(
        get(&invest, "early_help_capacity", 2030)
            > get(&base, "early_help_capacity", 2030) + 20_000.0
    );
    // Detection: more referrals while early help grows ...
    assert!(get(&invest, "referrals", 2026) > get(&base, "referrals", 2026));
    // ... prevention: fewer once it has matured.
    for column in [
        "referrals",
        "cpp_at_31_march",
        "cla_started",
        "cla_at_31_march",
    ] {
        assert!(
            get(&invest, column, 2033) < get(&base, column, 2033),
            "{column}: {} vs {}",
            get(&invest, column, 2033),
            get(&base, column, 2033)
        );
    }
    // Not free: £500m a year more on early help saves less than that.
    let extra = get(&invest, "spend_total_m", 2033) - get(&base, "spend_total_m", 2033);
    assert!(extra > 0.0 && extra < 500.0, "{extra}");
}

/// Loop 2: under a fixed total budget, dearer statutory services squeeze
/// prevention, which raises demand.
#[test]
fn a_fixed_budget_crowds_out_prevention() {
    let fixed = projection(&[("budget mode", 1.0)]);
    let squeezed = projection(&[
        ("budget mode", 1.0),
        ("weekly placement cost[childrens home]", 8000.0),
    ]);
    let path = projection(&[("weekly placement cost[childrens home]", 8000.0)]);
    // Statutory spend grows with children's home placements, and the
    // budget, set from the first year's spend, leaves less for prevention
    // the dearer they are (a year late, as budget setters see spend).
    for (year, at_least) in [(2028, 50.0), (2033, 100.0)] {
        let (squeezed, fixed) = (
            get(&squeezed, "spend_early_help_m", year),
            get(&fixed, "spend_early_help_m", year),
        );
        assert!(squeezed < fixed - at_least, "{year}: {squeezed} vs {fixed}");
    }
    // With prevention on its path, the same costs do not touch it.
    assert!((get(&path, "spend_early_help_m", 2028) - 2850.0).abs() < 1.0);
    assert!(get(&squeezed, "referrals", 2033) > get(&path, "referrals", 2033));
    assert!(get(&squeezed, "cla_at_31_march", 2033) > get(&path, "cla_at_31_march", 2033));
}

/// Loop 3: losing social workers raises caseloads, and with them plans,
/// care and turnover.
#[test]
fn high_caseloads_escalate_cases_and_drive_staff_away() {
    let base = projection(&[]);
    // Twice the turnover, and agencies that can cover only half the gaps.
    let churn = projection(&[("base turnover", 0.3), ("agency cover share", 0.5)]);
    assert!(get(&churn, "caseload", 2026) > get(&base, "caseload", 2026) + 1.0);
    assert!(get(&churn, "social_worker_fte", 2026) < get(&base, "social_worker_fte", 2026));
    for column in ["cpp_started", "cla_started", "rereferrals_12m"] {
        assert!(
            get(&churn, column, 2026) > get(&base, column, 2026),
            "{column}"
        );
    }
    // Agency cover fills part of the gap, at a premium.
    assert!(get(&churn, "agency_fte", 2026) > get(&base, "agency_fte", 2026));
}

/// Loop 4: more re-referral of closed cases means more referrals and more
/// children in need; more second plans means more children on plans.
#[test]
fn closed_cases_come_back() {
    let base = projection(&[]);
    let more = projection(&[
        ("rereferral fraction", 0.35),
        // Above the fitted share (0.274).
        ("returning plan share", 0.33),
    ]);
    assert!(get(&more, "rereferrals_12m", 2025) > get(&base, "rereferrals_12m", 2025));
    assert!(
        get(&more, "cpp_second_or_subsequent", 2025) > get(&base, "cpp_second_or_subsequent", 2025)
    );
    assert!(get(&more, "cin_at_31_march", 2028) > get(&base, "cin_at_31_march", 2028));
    assert!(get(&more, "cpp_at_31_march", 2028) > get(&base, "cpp_at_31_march", 2028));
}

/// Placement policy: kinship first moves entries from foster care to kin
/// and lowers placement spend.
#[test]
fn kinship_first_shifts_placements_and_spend() {
    let base = projection(&[]);
    let kin = projection(&[("kinship shift", 0.3)]);
    assert!(
        get(&kin, "cla_started_kinship_foster", 2025)
            > get(&base, "cla_started_kinship_foster", 2025) * 1.5
    );
    assert!(get(&kin, "cla_agency_foster", 2030) < get(&base, "cla_agency_foster", 2030));
    assert!(get(&kin, "spend_looked_after_m", 2030) < get(&base, "spend_looked_after_m", 2030));
    // Children are placed differently, not more or fewer of them.
    let total = |p: &project::Projection| get(p, "cla_started", 2025);
    assert!((total(&kin) / total(&base) - 1.0).abs() < 0.01);
}

/// The age bands and placements add up to the totals, and money is the sum
/// of its lines.
#[test]
fn breakdowns_add_up() {
    let p = projection(&[]);
    for year in [2023, 2028, 2033] {
        let by_age: f64 = p
            .columns()
            .iter()
            .filter(|c| c.starts_with("cla_age_"))
            .map(|c| get(&p, c, year))
            .sum();
        let total = get(&p, "cla_at_31_march", year);
        assert!(
            (by_age - total).abs() < 1e-6 * total,
            "{year}: {by_age} vs {total}"
        );
    }
    // Spend by RO3 line: leaving-care support is inside children looked
    // after (as RO3 counts it), which is residential, fostering and the
    // rest; nothing is counted twice.
    let sum_of = |lines: &[&str]| -> f64 { lines.iter().map(|c| get(&p, c, 2030)).sum() };
    let total = get(&p, "spend_total_m", 2030);
    let sum = sum_of(&[
        "spend_early_help_m",
        "spend_safeguarding_m",
        "spend_looked_after_m",
    ]);
    assert!((sum - total).abs() < 1e-6 * total, "{sum} vs {total}");
    let looked_after = get(&p, "spend_looked_after_m", 2030);
    let parts = sum_of(&[
        "spend_residential_m",
        "spend_fostering_m",
        "spend_other_looked_after_m",
    ]);
    assert!(
        (parts - looked_after).abs() < 1e-6 * looked_after,
        "{parts} vs {looked_after}"
    );
    let care_leavers = get(&p, "spend_care_leavers_m", 2030);
    assert!(care_leavers > 0.0 && care_leavers < get(&p, "spend_other_looked_after_m", 2030));
}

/// The stages from referral to a plan create and lose no children: summed
/// over ages, the children awaiting assessment, under a section 47
/// enquiry, on child in need plans and on protection plans change by what
/// enters from outside these stages less what leaves them, step by step
/// (Euler, every step saved), and every enquiry ends in a conference or
/// goes back to child in need. Plans start only from conferences.
#[test]
fn the_stages_to_a_plan_conserve_children() {
    let model = carecascade::england();
    let program = Program::compile(&model).unwrap();
    let mut state = program.state();
    let r = state.run().unwrap();
    let ages = ["age 0 to 4", "age 5 to 9", "age 10 to 15", "age 16 to 17"];
    let sum = |name: &str, i: usize| -> f64 {
        ages.iter()
            .map(|a| r.series(&format!("{name}[{a}]")).unwrap()[i])
            .sum()
    };
    let one = |name: &str, i: usize| -> f64 { r.series(name).unwrap()[i] };
    let stocks = [
        "awaiting assessment",
        "s47 enquiry",
        "child in need",
        "child protection",
    ];
    let entering = [
        "acute referrals",
        "unmet escalation",
        "early help step up",
        "early help detection",
        "rereferrals",
        "repeat enquiries",
    ];
    let leaving = [
        "referral closures",
        "step down to early help",
        "care entries from assessment",
        "cin closing",
        "cin step down",
        "cin to care",
        "cp closing",
        "cp to care",
    ];
    let times = r.times();
    let n = times.len();
    assert!(n > 500, "every step saved: {n}");
    let total = |i: usize| stocks.iter().map(|s| sum(s, i)).sum::<f64>();
    let mut worst: f64 = 0.0;
    for i in 0..n - 1 {
        let dt = times[i + 1] - times[i];
        let inflow: f64 = entering.iter().map(|f| sum(f, i)).sum();
        let outflow: f64 = leaving.iter().map(|f| sum(f, i)).sum::<f64>()
            + one("cin ageing out[age 16 to 17]", i)
            + one("cp ageing out[age 16 to 17]", i);
        let gap = total(i + 1) - total(i) - dt * (inflow - outflow);
        worst = worst.max(gap.abs() / total(i));
        // Every enquiry ending goes to a plan or back to child in need.
        let ending = sum("enquiries ending", i);
        let out = sum("conference to plan", i)
            + sum("conference no plan", i)
            + sum("enquiry no conference", i);
        assert!((ending - out).abs() < 1e-9 * ending, "{ending} vs {out}");
        // Plans start only from conferences, conferences only from enquiries.
        let plans = one("cp starts", i);
        assert!((plans - sum("conference to plan", i)).abs() < 1e-9 * plans);
        let conferences = one("initial conferences", i);
        assert!(plans < conferences && conferences < one("s47 enquiries started", i));
    }
    assert!(worst < 1e-9, "children created or lost: {worst}");
}
