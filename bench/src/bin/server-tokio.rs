//! The tokio echo/HTTP server of the out-of-process network benchmark
//! (`cargo bench -p goro-bench --bench net`); see `goro_bench::serve`.

fn main() {
    goro_bench::serve::main::<goro_bench::rt::Tokio>();
}
