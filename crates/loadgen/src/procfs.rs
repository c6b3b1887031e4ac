//! Memory figures from Linux's /proc: a process's resident set, the
//! kernel's TCP buffer pages and its slab allocations.

use anyhow::{Context, bail};
use serde::Serialize;

/// A snapshot of what the idle scenario compares before and after.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MemorySnapshot {
    /// Server resident set size (VmRSS), bytes.
    pub server_rss_bytes: u64,
    /// This tool's own resident set size, bytes.
    pub client_rss_bytes: u64,
    /// TCP sockets in use (`/proc/net/sockstat` `TCP: inuse`).
    pub tcp_sockets_in_use: u64,
    /// Pages the kernel holds for TCP socket buffers (`TCP: mem`) × page size.
    pub tcp_buffer_bytes: u64,
    /// Kernel slab memory (`/proc/meminfo` `Slab`): socket, file and epoll
    /// structures live here.
    pub slab_bytes: u64,
}

pub fn snapshot(server_pid: u32) -> anyhow::Result<MemorySnapshot> {
    let (tcp_sockets_in_use, tcp_buffer_pages) = tcp_sockstat()?;
    Ok(MemorySnapshot {
        server_rss_bytes: vm_rss_bytes(&format!("/proc/{server_pid}/status"))?,
        client_rss_bytes: vm_rss_bytes("/proc/self/status")?,
        tcp_sockets_in_use,
        tcp_buffer_bytes: tcp_buffer_pages * PAGE_SIZE,
        slab_bytes: meminfo_kib("Slab")? * 1024,
    })
}

/// `TCP: mem` counts pages; x86-64 and arm64 Linux use 4 KiB pages here.
const PAGE_SIZE: u64 = 4096;

/// VmRSS of a process, bytes.
pub fn vm_rss_bytes(status_path: &str) -> anyhow::Result<u64> {
    let text =
        std::fs::read_to_string(status_path).with_context(|| format!("reading {status_path}"))?;
    let kib = text
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse::<u64>().ok())
        .with_context(|| format!("no VmRSS in {status_path}"))?;
    Ok(kib * 1024)
}

/// `(inuse, mem pages)` from the `TCP:` line of /proc/net/sockstat.
fn tcp_sockstat() -> anyhow::Result<(u64, u64)> {
    let text =
        std::fs::read_to_string("/proc/net/sockstat").context("reading /proc/net/sockstat")?;
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("TCP:"))
        .context("no TCP line in /proc/net/sockstat")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let value = |name: &str| -> anyhow::Result<u64> {
        let position = fields
            .iter()
            .position(|field| *field == name)
            .with_context(|| format!("no {name} in sockstat"))?;
        let Some(number) = fields.get(position + 1) else {
            bail!("{name} has no value in sockstat");
        };
        number
            .parse()
            .with_context(|| format!("sockstat {name} is not a number"))
    };
    Ok((value("inuse")?, value("mem")?))
}

fn meminfo_kib(field: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    text.lines()
        .find_map(|line| {
            line.strip_prefix(field)
                .and_then(|rest| rest.strip_prefix(':'))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .with_context(|| format!("no {field} in /proc/meminfo"))
}
