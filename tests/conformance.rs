//! End-to-end: CPython's own regression tests (the subset of `toolchains/conformance.toml`) give
//! the same results, module by module, inside a pyelf binary as in the toolchain's python3 from
//! files, in the empty root without /proc and in Alpine with it (`pyelf conformance --quick`;
//! `bench` runs the whole list). Run by `./test.sh`.

mod common;

use std::process::Command;

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_regression_subset_gives_the_same_results_in_the_binary_as_in_the_interpreter() {
    let json = common::roots::tmp().join("conformance.json");
    let out = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .args(["conformance", "--quick", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "differences the plan does not explain:\n{all}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let places = report["places"].as_array().unwrap();
    assert_eq!(places.len(), 2, "{all}");
    for place in places {
        let modules = place["modules"].as_array().unwrap();
        assert!(modules.len() >= 15, "{all}");
        // The suite really ran on both sides: thousands of tests, none of the modules missing.
        let run = |side: &str| modules.iter().map(|m| m[side]["run"].as_u64().unwrap()).sum::<u64>();
        assert!(run("interpreter") > 5000 && run("binary") > 5000, "{all}");
        assert!(
            modules.iter().all(|m| m["binary"]["state"] != "not run" && m["interpreter"]["state"] != "not run"),
            "{all}"
        );
    }
}
