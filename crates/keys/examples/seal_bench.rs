//! What sealing costs: texts of a typical message's size and files, sealed
//! and opened with one person's key, in a release build.
//!
//! Usage: `cargo run --release -p conclave-keys --example seal_bench`.

use std::time::Instant;

use conclave_keys::Keyring;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("conclave-seal-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let keyring = Keyring::open_in_dir(&dir)?;

    let text =
        "Quarterly numbers are in the shared folder; let's go through them on Thursday at 10.";
    let rounds = 200_000;
    let started = Instant::now();
    let mut sealed = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        sealed.push(keyring.seal_text(7, text)?);
    }
    let seal_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for value in &sealed {
        assert_eq!(keyring.open_text(value)?.len(), text.len());
    }
    let open_seconds = started.elapsed().as_secs_f64();
    println!(
        "text of {} bytes: seal {:.0}/s ({:.2} µs), open {:.0}/s ({:.2} µs), stored as {} bytes",
        text.len(),
        rounds as f64 / seal_seconds,
        seal_seconds * 1e6 / rounds as f64,
        rounds as f64 / open_seconds,
        open_seconds * 1e6 / rounds as f64,
        sealed[0].len()
    );

    let file: Vec<u8> = (0..64 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let started = Instant::now();
    let sealed_file = keyring.seal_blob(7, &file)?;
    let seal_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let opened = keyring.open_blob(&sealed_file)?;
    let open_seconds = started.elapsed().as_secs_f64();
    assert_eq!(opened.len(), file.len());
    let mib = file.len() as f64 / (1024.0 * 1024.0);
    println!(
        "64 MiB file: seal {:.0} MiB/s, open {:.0} MiB/s, {} bytes of overhead",
        mib / seal_seconds,
        mib / open_seconds,
        sealed_file.len() - file.len()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
