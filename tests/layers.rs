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

/// What a layer must not name even though the crate it sits on exports it: Stripe's wire
/// types stay inside the gateway (its own tests read them), and the store's engine stays
/// inside the store. Scanned as text, because a `pub` module cannot be half-public.
const NEVER_ABOVE: &[(&str, &[&str])] = &[
    (
        "stripe::wire",
        &["crates/core/src", "crates/api/src", "src", "src-tauri/src"],
    ),
    (
        "rusqlite",
        &["crates/core/src", "crates/api/src", "src", "src-tauri/src"],
    ),
];

#[test]
fn no_wire_type_and_no_engine_type_shows_above_their_layer() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for (needle, dirs) in NEVER_ABOVE {
        for dir in *dirs {
            assert!(
                root.join(dir).is_dir(),
                "{dir} is not a folder any more: update NEVER_ABOVE"
            );
            let mut stack = vec![root.join(dir)];
            while let Some(path) = stack.pop() {
                if path.is_dir() {
                    for entry in std::fs::read_dir(&path).expect("read a source folder") {
                        stack.push(entry.expect("a folder entry").path());
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("read a source file");
                    for (n, line) in text.lines().enumerate() {
                        if line.contains(needle) && !line.trim_start().starts_with("//") {
                            found.push(format!("{}:{}: {needle}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
