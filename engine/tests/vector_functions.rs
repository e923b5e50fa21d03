//! Vensim's vector functions (`VECTOR SELECT`, `VECTOR SORT ORDER`,
//! `VECTOR RANK`, `VECTOR REORDER`, `VECTOR ELM MAP`, `ALLOCATE BY
//! PRIORITY`, `INVERT MATRIX`) against values computed by hand.

use carecascade_engine::format::{native, vensim, xmile};
use carecascade_engine::{Model, Program, Results};

const CONTROL: &str = "INITIAL TIME = 0 ~ Month ~|\nFINAL TIME = 10 ~ Month ~|\nTIME STEP = 1 ~ Month ~|\nSAVEPER = TIME STEP ~ Month ~|\n";

fn parse(equations: &str) -> Result<Model, String> {
    vensim::parse(
        &format!("{{UTF-8}}\n{equations}\n{CONTROL}\\\\\\---/// Sketch\n"),
        Some("m.mdl"),
    )
    .map_err(|e| e.to_string())
}

fn run(equations: &str) -> Results {
    let model = parse(equations).unwrap_or_else(|e| panic!("{e}"));
    Program::compile(&model)
        .unwrap_or_else(|e| panic!("{e}"))
        .run()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn compile_error(equations: &str) -> String {
    match parse(equations) {
        Err(e) => e,
        Ok(model) => Program::compile(&model).unwrap_err().to_string(),
    }
}

fn values(r: &Results, name: &str, elements: &[&str], t: f64) -> Vec<f64> {
    elements
        .iter()
        .map(|e| {
            r.value_at(&format!("{name}[{e}]"), t)
                .unwrap_or_else(|| panic!("no {name}[{e}]"))
        })
        .collect()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
}

#[test]
fn sort_order_rank_reorder_and_elm_map() {
    // v = 3, 1, 3, 2: ties keep the order of the elements.
    let r = run("d: (d1-d4) ~~|\n\
         v[d] = 3, 1, 3, 2 ~~|\n\
         up order[d] = VECTOR SORT ORDER(v[d], 1) ~~|\n\
         down order[d] = VECTOR SORT ORDER(v[d], 0) ~~|\n\
         up rank[d] = VECTOR RANK(v[d], 1) ~~|\n\
         down rank[d] = VECTOR RANK(v[d], -1) ~~|\n\
         sorted[d] = VECTOR REORDER(v[d], up order[d]) ~~|\n\
         next[d] = VECTOR ELM MAP(v[d], 1) ~~|\n\
         third = VECTOR ELM MAP(v[d1], 2) ~~|");
    let all = ["d1", "d2", "d3", "d4"];
    // Offsets from 0 of the smallest, next, ...: 1 (the 1), 3 (the 2), 0, 2.
    assert_eq!(values(&r, "up order", &all, 0.0), [1.0, 3.0, 0.0, 2.0]);
    assert_eq!(values(&r, "down order", &all, 0.0), [0.0, 2.0, 3.0, 1.0]);
    // Ranks from 1.
    assert_eq!(values(&r, "up rank", &all, 0.0), [3.0, 1.0, 4.0, 2.0]);
    assert_eq!(values(&r, "down rank", &all, 0.0), [1.0, 4.0, 2.0, 3.0]);
    assert_eq!(values(&r, "sorted", &all, 0.0), [1.0, 2.0, 3.0, 3.0]);
    // One along from each element; past the end is :NA:.
    let next = values(&r, "next", &all, 0.0);
    assert_eq!(&next[..3], [1.0, 3.0, 2.0]);
    assert!(next[3] < -1e30, "{next:?}");
    assert_eq!(r.value_at("third", 0.0), Some(3.0));
}

#[test]
fn sort_order_follows_values_that_change() {
    // a rises past b at time 3 (a = t, b = 2.5).
    let r = run("d: a, b ~~|\nv[a] = Time ~~|\nv[b] = 2.5 ~~|\n\
         order[d] = VECTOR SORT ORDER(v[d], 1) ~~|");
    assert_eq!(values(&r, "order", &["a", "b"], 2.0), [0.0, 1.0]);
    assert_eq!(values(&r, "order", &["a", "b"], 3.0), [1.0, 0.0]);
}

#[test]
fn vector_select_every_numerical_action() {
    // Selection 1, 0, 2 of 4, 5, 6.
    let mut equations =
        String::from("d: (d1-d3) ~~|\ns[d] = 1, 0, 2 ~~|\nx[d] = 4, 5, 6 ~~|\nnone[d] = 0 ~~|\n");
    for action in 0..=10 {
        equations.push_str(&format!(
            "a{action} = VECTOR SELECT(s[d!], x[d!], -1, {action}, 0) ~~|\n"
        ));
    }
    equations.push_str("by time = VECTOR SELECT(s[d!], x[d!], -1, Time, 0) ~~|\n");
    equations.push_str("missing = VECTOR SELECT(none[d!], x[d!], -7, 0, 0) ~~|\n");
    let r = run(&equations);
    // Of s * x over the selected (4, 12): sum, product, min, max, mean;
    // the product of x ^ s (4 * 36); of x over the selected (4, 6): sum,
    // product, min, max, mean.
    let expected = [16.0, 48.0, 4.0, 12.0, 8.0, 144.0, 10.0, 24.0, 4.0, 6.0, 5.0];
    for (action, want) in expected.iter().enumerate() {
        assert_eq!(
            r.value_at(&format!("a{action}"), 0.0),
            Some(*want),
            "action {action}"
        );
        assert_eq!(r.value_at("by time", action as f64), Some(*want));
    }
    assert_eq!(r.value_at("missing", 0.0), Some(-7.0));
}

#[test]
fn vector_select_error_action_stops_the_run_when_nothing_is_selected() {
    let model = parse(
        "d: (d1-d3) ~~|\nnone[d] = 0 ~~|\nx[d] = 4, 5, 6 ~~|\n\
         y = VECTOR SELECT(none[d!], x[d!], 0, 0, 1) ~~|",
    )
    .unwrap();
    let e = Program::compile(&model)
        .unwrap()
        .run()
        .unwrap_err()
        .to_string();
    assert!(e.contains("`y`"), "{e}");
}

#[test]
fn allocate_by_priority_shares_by_rectangular_profiles() {
    // Requests 10, 6, 3 at priorities 2, 4, 3, width 3: supply = Time.
    let r = run(
        "d: a, b, c ~~|\nrequest[d] = 10, 6, 3 ~~|\npriority[d] = 2, 4, 3 ~~|\n\
         supply = Time * 2 ~~|\n\
         shares[d] = ALLOCATE BY PRIORITY(request[d], priority[d], ELMCOUNT(d), 3, supply) ~~|\n\
         total = SUM(shares[d!]) ~~|",
    );
    let all = ["a", "b", "c"];
    assert_eq!(values(&r, "shares", &all, 0.0), [0.0, 0.0, 0.0]);
    // Supply 2 goes to b alone: 6 (5.5 - p) / 3 = 2 at p = 4.5.
    assert!(close(&values(&r, "shares", &all, 1.0), &[0.0, 2.0, 0.0]));
    // Supply 6: 10 (3.5 - p)/3 + 6 (5.5 - p)/3 + 3 (4.5 - p)/3 = 6 at
    // p = 63.5 / 19.
    let p = 63.5 / 19.0;
    let want = [
        10.0 * (3.5 - p) / 3.0,
        6.0 * (5.5 - p) / 3.0,
        3.0 * (4.5 - p) / 3.0,
    ];
    assert!(close(&values(&r, "shares", &all, 3.0), &want));
    for t in 0..=10 {
        let total = r.value_at("total", f64::from(t)).unwrap();
        assert!(
            (total - (2.0 * f64::from(t)).min(19.0)).abs() < 1e-9,
            "{t}: {total}"
        );
    }
    // Supply 20 covers every request.
    assert_eq!(values(&r, "shares", &all, 10.0), [10.0, 6.0, 3.0]);
}

#[test]
fn invert_matrix_with_pivoting() {
    let r = run("r: r1, r2, r3 ~~|\nc: c1, c2, c3 ~~|\n\
         m[r, c] = 0, 1, 2; 1, 0, 3; 4, -3, 8; ~~|\n\
         inverse[r, c] = INVERT MATRIX(m[r, c], 3) ~~|");
    // The inverse of [[0,1,2],[1,0,3],[4,-3,8]] (determinant -2):
    // [[-4.5, 7, -1.5], [-2, 4, -1], [1.5, -2, 0.5]].
    let rows = [
        ("r1", [-4.5, 7.0, -1.5]),
        ("r2", [-2.0, 4.0, -1.0]),
        ("r3", [1.5, -2.0, 0.5]),
    ];
    for (row, want) in rows {
        let got: Vec<f64> = ["c1", "c2", "c3"]
            .iter()
            .map(|c| r.value_at(&format!("inverse[{row},{c}]"), 0.0).unwrap())
            .collect();
        assert!(close(&got, &want), "{row}: {got:?}");
    }
}

#[test]
fn vector_functions_refuse_what_they_cannot_take_with_the_place() {
    let e = compile_error(
        "d: a, b ~~|\ne: x, y, z ~~|\nm[d, e] = 1 ~~|\ni[d, e] = INVERT MATRIX(m[d, e], 2) ~~|",
    );
    assert!(e.contains("m.mdl:") && e.contains("square"), "{e}");
    let e = compile_error("x = 1 ~~|\ny = VECTOR SELECT(x, x, 0, 0, 0) ~~|");
    assert!(e.contains("m.mdl:") && e.contains("marked `!`"), "{e}");
    let e = compile_error("d: a, b ~~|\nv[d] = 1, 2 ~~|\ny = VECTOR RANK(v[d], 1) ~~|");
    assert!(e.contains("m.mdl:") && e.contains("VECTOR RANK"), "{e}");
    let e = compile_error(
        "d: a, b ~~|\nv[d] = 1, 2 ~~|\ny[d] = VECTOR SELECT(v[d!], v[d!], 0, 11, 0) ~~|",
    );
    assert!(e.contains("0 to 10"), "{e}");
}

#[test]
fn vectors_too_long_to_write_out_are_refused_at_once() {
    let e = compile_error("d: (d1-d3000) ~~|\nv[d] = 1 ~~|\nr[d] = VECTOR RANK(v[d], 1) ~~|");
    assert!(e.contains("m.mdl:4:") && e.contains("at most 2000"), "{e}");
}

/// `ALLOCATE AVAILABLE` with the profiles `pp` (rows `type, priority,
/// width, extra`) and the supply `supply`, over requesters a and b (and c
/// when `pp` has three rows).
fn allocate_available(requests: &str, pp: &str, supply: &str) -> Results {
    let rows = pp.matches(';').count();
    let d = if rows == 3 { "a, b, c" } else { "a, b" };
    run(&format!(
        "d: {d} ~~|\npprofile: ptype, ppriority, pwidth, pextra ~~|\n\
         request[d] = {requests} ~~|\npp[d, pprofile] = {pp} ~~|\n\
         supply = {supply} ~~|\n\
         shares[d] = ALLOCATE AVAILABLE(request[d], pp[d, ptype], supply) ~~|\n\
         total = SUM(shares[d!]) ~~|"
    ))
}

#[test]
fn allocate_available_rectangular_profiles_are_allocate_by_priority() {
    // The requests and priorities of the ALLOCATE BY PRIORITY test.
    let r = allocate_available(
        "10, 6, 3",
        "1, 2, 3, 0; 1, 4, 3, 0; 1, 3, 3, 0;",
        "Time * 2",
    );
    let all = ["a", "b", "c"];
    assert_eq!(values(&r, "shares", &all, 0.0), [0.0, 0.0, 0.0]);
    assert!(close(&values(&r, "shares", &all, 1.0), &[0.0, 2.0, 0.0]));
    let p = 63.5 / 19.0;
    let want = [
        10.0 * (3.5 - p) / 3.0,
        6.0 * (5.5 - p) / 3.0,
        3.0 * (4.5 - p) / 3.0,
    ];
    assert!(close(&values(&r, "shares", &all, 3.0), &want));
    assert_eq!(values(&r, "shares", &all, 10.0), [10.0, 6.0, 3.0]);
}

#[test]
fn allocate_available_over_the_last_dimension_of_two() {
    // Each region allocates its own supply over the items: with
    // rectangular profiles, as ALLOCATE BY PRIORITY does.
    let equations = "region: north, south ~~|\nitem: i1, i2, i3 ~~|\n\
         pprofile: ptype, ppriority, pwidth, pextra ~~|\n\
         request[region, item] = 4, 2, 6; 1, 5, 3 ~~|\n\
         priority[item] = 3, 1, 2 ~~|\n\
         pp[item, ptype] = 1 ~~|\npp[item, ppriority] = priority[item] ~~|\n\
         pp[item, pwidth] = 2 ~~|\npp[item, pextra] = 0 ~~|\n\
         supply[north] = Time ~~|\nsupply[south] = Time / 2 ~~|\n\
         by profile[region, item] = ALLOCATE AVAILABLE(request[region, item], pp[item, ptype], supply[region]) ~~|\n\
         by priority[region, item] = ALLOCATE BY PRIORITY(request[region, item], priority[item], ELMCOUNT(item), 2, supply[region]) ~~|";
    let r = run(equations);
    let mut checked = 0;
    for region in ["north", "south"] {
        for item in ["i1", "i2", "i3"] {
            for t in 0..=10 {
                let t = f64::from(t);
                let a = r
                    .value_at(&format!("by profile[{region},{item}]"), t)
                    .unwrap();
                let b = r
                    .value_at(&format!("by priority[{region},{item}]"), t)
                    .unwrap();
                assert!((a - b).abs() < 1e-9, "{region} {item} {t}: {a} {b}");
                checked += usize::from(a > 0.0 && a < b + 1.0);
            }
        }
    }
    assert!(checked > 20, "{checked}");
    // North's supply of 5 at time 5 puts the level at 2.4: i1 gets 4 (4 -
    // 2.4) / 2, i3 6 (3 - 2.4) / 2 and i2 (whose profile ends at 2)
    // nothing.
    let north = values(&r, "by profile", &["north,i1", "north,i2", "north,i3"], 5.0);
    assert!(close(&north, &[3.2, 0.0, 1.8]), "{north:?}");
    // The same numbers after export to XMILE and the native format.
    let model = parse(equations).unwrap();
    let column = |m: &Model| -> Vec<f64> {
        let r = Program::compile(m).unwrap().run().unwrap();
        r.series("by profile[south,i3]").unwrap().to_vec()
    };
    let xmile = xmile::parse(&xmile::write(&model), Some("m.xmile")).unwrap();
    assert_eq!(column(&xmile), column(&model));
    let native = native::parse(&native::write(&model), Some("m.toml")).unwrap();
    assert_eq!(column(&native), column(&model));
}

#[test]
fn allocate_available_triangular_profiles() {
    // Triangles of base 4: a over [3, 7] peaking at 5, b over [0, 4]
    // peaking at 2, 10 requested each.
    let r = allocate_available(
        "10, 10",
        "2, 5, 4, 0; 2, 2, 4, 0;",
        "IF THEN ELSE(Time = 3, 11, IF THEN ELSE(Time = 10, 20, Time))",
    );
    let all = ["a", "b"];
    // Supply 5: the level is a's peak, half of a's triangle is above it
    // and none of b's.
    assert!(close(&values(&r, "shares", &all, 5.0), &[5.0, 0.0]));
    // Supply 2: a alone, 10 * 2 (1/2 - z)² = 2 at z = 1/2 - √0.1.
    assert!(close(&values(&r, "shares", &all, 2.0), &[2.0, 0.0]));
    // Supply 11 puts the level at 3 + t, where a keeps 1 - t²/8 and b
    // (1 - t)²/8 of its triangle: 10 + 10 (1 - 2t)/8 = 11 at t = 0.1.
    let want = [10.0 * (1.0 - 0.01 / 8.0), 10.0 * 0.81 / 8.0];
    assert!(
        close(&values(&r, "shares", &all, 3.0), &want),
        "{:?}",
        values(&r, "shares", &all, 3.0)
    );
    assert_eq!(values(&r, "shares", &all, 10.0), [10.0, 10.0]);
}

#[test]
fn allocate_available_normal_profiles_are_cumulative_normals() {
    // Normal profiles at priorities 1 and -1, standard deviation 1: supply
    // 10 sets the level at 0 by symmetry, where a keeps Φ(1) of its
    // request and b Φ(-1).
    let phi_1 = 0.841_344_746_068_542_9;
    let r = allocate_available("10, 10", "3, 1, 1, 0; 3, -1, 1, 0;", "Time");
    let all = ["a", "b"];
    assert!(close(
        &values(&r, "shares", &all, 10.0),
        &[10.0 * phi_1, 10.0 * (1.0 - phi_1)]
    ));
    // Unequal requests and widths: the shares add up to the supply, and
    // each is request * Φ((priority - level) / width) at one level.
    let r = allocate_available("6, 9", "3, 2, 0.5, 0; 3, 1, 2, 0;", "Time * 1.6");
    let mut checked = 0;
    for t in 1..=10 {
        let supply = f64::from(t) * 1.6;
        let [a, b] = values(&r, "shares", &all, f64::from(t))[..] else {
            unreachable!()
        };
        assert!((a + b - supply.min(15.0)).abs() < 1e-9, "{t}: {a} + {b}");
        // Where both are partly served, a = 6 Φ((2 - level) / 0.5): the
        // level from a, then b from it.
        if (0.01..0.99).contains(&(a / 6.0)) && (0.01..0.99).contains(&(b / 9.0)) {
            checked += 1;
            let level = 2.0 - 0.5 * inverse_phi(a / 6.0);
            let b_want = 9.0 * phi((1.0 - level) / 2.0);
            assert!((b - b_want).abs() < 1e-7, "{t}: {b} against {b_want}");
        }
    }
    assert!(checked >= 3, "{checked}");
}

#[test]
fn allocate_available_exponential_profiles() {
    // Laplace profiles at 1 and -1, width 1: supply 10 sets the level at 0,
    // where a keeps 1 - e^-1 / 2 and b e^-1 / 2.
    let r = allocate_available("10, 10", "4, 1, 1, 0; 4, -1, 1, 0;", "Time");
    let tail = 0.5 * (-1.0f64).exp();
    assert!(close(
        &values(&r, "shares", &["a", "b"], 10.0),
        &[10.0 * (1.0 - tail), 10.0 * tail]
    ));
}

#[test]
fn allocate_available_refuses_what_it_does_not_take() {
    // a's profile as written, b's type `kind`.
    let equations = |a: &str, kind: &str| {
        format!(
            "d: a, b ~~|\npprofile: ptype, ppriority, pwidth, pextra ~~|\n\
             request[d] = 1, 2 ~~|\npp[a, pprofile] = {a} ~~|\n\
             pp[b, ptype] = {kind} ~~|\npp[b, ppriority] = 1 ~~|\npp[b, pwidth] = 1 ~~|\n\
             pp[b, pextra] = 0 ~~|\n\
             shares[d] = ALLOCATE AVAILABLE(request[d], pp[d, ptype], Time) ~~|"
        )
    };
    let e = compile_error(&equations("0, 1, 1, 0", "1"));
    assert!(e.contains("m.mdl:") && e.contains("fixed quantity"), "{e}");
    let e = compile_error(&equations("5, 1, 1, 0", "1"));
    assert!(e.contains("constant elasticity"), "{e}");
    // A type computed during the run picks its shape at each step (a
    // normal profile for b here); one that is not a type stops the run
    // (below).
    let r = run(
        &equations("3, 1, 1, 0", "IF THEN ELSE(Time < 50, 3, 7)").replace(
            "ALLOCATE AVAILABLE(request[d], pp[d, ptype], Time)",
            "ALLOCATE AVAILABLE(request[d], pp[d, ptype], 1.5)",
        ),
    );
    let (a, b) = (
        r.value_at("shares[a]", 4.0).unwrap(),
        r.value_at("shares[b]", 4.0).unwrap(),
    );
    // Same priority and width: a and b keep the same part of their
    // requests, 1.5 / 3.
    assert!((a - 0.5).abs() < 1e-9 && (b - 1.0).abs() < 1e-9, "{a} {b}");
    // A width of 0 stops the run once the profiles are needed, a negative
    // request at once.
    let stops = |equations: &str| {
        let model = parse(equations).unwrap();
        let e = Program::compile(&model)
            .unwrap()
            .run()
            .unwrap_err()
            .to_string();
        assert!(e.contains("shares"), "{e}");
    };
    stops(&equations("1, 1, 0, 0", "1"));
    stops(
        &equations("3, 1, 1, 0", "IF THEN ELSE(Time < 5, 3, 7)").replace(
            "ALLOCATE AVAILABLE(request[d], pp[d, ptype], Time)",
            "ALLOCATE AVAILABLE(request[d], pp[d, ptype], 1.5)",
        ),
    );
    stops(&equations("1, 1, 1, 0", "1").replace("request[d] = 1, 2", "request[d] = -1, 2"));
}

/// The cumulative standard normal.
fn phi(x: f64) -> f64 {
    // 1/2 (1 + erf(x/√2)), erf by its Taylor series (enough terms for
    // |x| < 6).
    let z = x / std::f64::consts::SQRT_2;
    let (mut term, mut sum, mut k) = (z, z, 0.0f64);
    while term.abs() > 1e-17 * sum.abs().max(1e-300) && k < 400.0 {
        k += 1.0;
        term *= -z * z / k;
        sum += term / (2.0 * k + 1.0);
    }
    0.5 * (1.0 + 2.0 / std::f64::consts::PI.sqrt() * sum)
}

/// The inverse of [`phi`], by bisection.
fn inverse_phi(p: f64) -> f64 {
    let (mut low, mut high) = (-10.0, 10.0);
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if phi(middle) < p {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high)
}
