use raft_core::testing::sim;

#[test]
fn simulator_finds_no_violation_on_3_and_5_nodes() {
    for seed in 0..6 {
        println!("simulator seed {seed}");
        let report = sim::run(&sim::SimConfig::new(seed, 5000)).unwrap_or_else(|v| panic!("{v}"));
        assert!(
            report.elections > 0 && report.committed > 0 && report.reads > 0,
            "seed {seed}: {report:?}"
        );
    }
}

#[test]
fn simulator_replays_a_seed_exactly() {
    let a = sim::run(&sim::SimConfig::new(11, 3000)).unwrap();
    let b = sim::run(&sim::SimConfig::new(11, 3000)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn simulator_catches_votes_granted_without_the_election_restriction() {
    let found = (0..50).find_map(|seed| {
        let cfg = sim::SimConfig {
            unsafe_skip_election_restriction: true,
            ..sim::SimConfig::new(seed, 5000)
        };
        sim::run(&cfg).err()
    });
    let violation = found.expect("the broken rule was caught within 50 seeds");
    println!("caught at seed {}: {}", violation.seed, violation.what);
    assert!(
        [
            "Leader Completeness",
            "State Machine Safety",
            "Log Matching"
        ]
        .iter()
        .any(|p| violation.what.contains(p)),
        "{}",
        violation.what
    );
    assert!(
        !violation.trace.is_empty(),
        "a violation comes with its trace"
    );
}
