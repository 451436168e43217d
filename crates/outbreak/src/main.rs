//! `outbreak`: the one binary. It parses flags, sets up logging and wires the layers
//! together; the work itself lives in the library crates.

mod bench;
mod cli;
mod demo;
mod serve;
mod simulate;
// The one module allowed `unsafe`: it hands SQLite an allocator through SQLite's C API.
#[allow(unsafe_code)]
mod sqlite_memory;
mod verify;

use clap::Parser;

/// mimalloc: the server allocates small short-lived buffers per request, where it is
/// markedly faster than the system allocator. Built with `no_thp`, it does not ask the
/// kernel for transparent huge pages: it returns freed memory to the system and takes it
/// back as the next batch of work needs it, and each time a huge page comes back the
/// kernel zeroes all 2 MiB of it. Recording results from a file, whose chunks each
/// allocate and free maps of 50,000 rows, ran a quarter faster without them (see
/// docs/benchmarks.md; docs/operations.md for hosts that give huge pages unasked).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // Before anything opens a database: SQLite takes its allocator only then.
    if !sqlite_memory::use_mimalloc() {
        eprintln!("outbreak: SQLite keeps the C library's allocator");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("outbreak: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("outbreak: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
