//! Times importing a Stripe export twice into a fresh store: wall and CPU seconds.
//! `cargo run --release --example import_timing -- FILE.csv DB`
use std::time::Instant;

mod support;
use support::cpu_seconds;

#[path = "../tests/import_support/mod.rs"]
mod import_support;

use chargeguard::import::{FileKind, ImportOptions, import_file};
use chargeguard::store::Store;

#[global_allocator]
static ALLOCATOR: chargeguard::Allocator = chargeguard::Allocator;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (file, db) = (
        std::path::Path::new(&args[1]),
        std::path::Path::new(&args[2]),
    );
    if !file.exists() {
        import_support::write_stripe_export(file, 1_000_000, 0);
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut store = Store::open(db).unwrap();
    for round in ["first", "again"] {
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        let report = import_file(
            &mut store,
            FileKind::StripePayments,
            file,
            &ImportOptions::default(),
            jiff::Timestamp::now(),
        )
        .unwrap();
        println!(
            "{round}: wall {:.2}s cpu {:.2}s: {report}",
            wall.elapsed().as_secs_f64(),
            cpu_seconds() - cpu
        );
    }
    let size =
        |s: &str| std::fs::metadata(format!("{}{s}", db.display())).map_or(0, |m| m.len() >> 20);
    println!("store {} MiB + WAL {} MiB", size(""), size("-wal"));
}
