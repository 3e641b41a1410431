//! Helpers shared by the benches in `benches/benches/`: sample data, and peers measured in the
//! same run (e.g. `openssl speed`) so that `docs/performance.md` can quote ratios.
