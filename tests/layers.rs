//! The layers as the compiler keeps them: each workspace crate may depend only on the
//! crates below it (ARCHITECTURE.md draws them). A crate cycle would not compile anyway;
//! this catches an arrow that points sideways or up without a cycle (the gateway reaching
//! into the store, the domain floor growing a dependency on anything of ours).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each crate and the workspace crates it may depend on. A new crate must be added here,
/// with its place in the layers.
const ALLOWED: &[(&str, &[&str])] = &[
    ("chargeguard-domain", &[]),
    ("chargeguard-store", &["chargeguard-domain"]),
    ("chargeguard-gateway", &["chargeguard-domain"]),
    (
        "chargeguard-core",
        &[
            "chargeguard-domain",
            "chargeguard-store",
            "chargeguard-gateway",
        ],
    ),
    (
        "chargeguard-api",
        &["chargeguard-domain", "chargeguard-core"],
    ),
    (
        "chargeguard",
        &[
            "chargeguard-domain",
            "chargeguard-store",
            "chargeguard-gateway",
            "chargeguard-core",
            "chargeguard-api",
        ],
    ),
    ("chargeguard-desktop", &["chargeguard"]),
];

#[test]
fn every_crate_depends_only_on_the_layers_below_it() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let ours: BTreeSet<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for package in packages {
        let name = package["name"].as_str().expect("name");
        let Some(may) = allowed.get(name) else {
            wrong.push(format!(
                "{name} is not placed in the layers (add it to ALLOWED)"
            ));
            continue;
        };
        for dep in package["dependencies"].as_array().expect("dependencies") {
            let dep_name = dep["name"].as_str().expect("dependency name");
            if ours.contains(dep_name) && !may.contains(&dep_name) {
                wrong.push(format!(
                    "{name} depends on {dep_name}, which is not below it"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for crate_name in [
        "chargeguard-domain",
        "chargeguard-store",
        "chargeguard-gateway",
        "chargeguard-core",
        "chargeguard-api",
        "chargeguard",
    ] {
        assert!(
            ours.contains(crate_name),
            "{crate_name} is in the workspace"
        );
    }
}
