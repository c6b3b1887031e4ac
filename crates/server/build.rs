//! Embeds the web client's build output (web/dist) in the binary. When it
//! has not been built, a small page says how to build it, so the server
//! still compiles and runs on a machine without Node.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("../../web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    }
    let mut code = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    if files.is_empty() {
        let placeholder = out.join("placeholder.html");
        let _ = std::fs::write(
            &placeholder,
            "<!doctype html><meta charset=utf-8><title>Conclave</title>\
             <p>The Conclave server is running, but this binary was built without the web client.\
             Build it with <code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>, \
             then rebuild the server (or use <code>./scripts/run</code>).</p>",
        );
        let _ = writeln!(
            code,
            "    (\"index.html\", include_bytes!({:?})),",
            placeholder.display().to_string()
        );
    }
    for (relative, absolute) in &files {
        println!("cargo:rerun-if-changed={}", absolute.display());
        let _ = writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        );
    }
    code.push_str("];\n");
    let _ = std::fs::write(out.join("web_assets.rs"), code);
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|entry| entry.path());
    for entry in entries {
        let path = entry.path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative.to_string_lossy().replace('\\', "/");
            let absolute = path.canonicalize().unwrap_or(path.clone());
            files.push((relative, absolute));
        }
    }
}
