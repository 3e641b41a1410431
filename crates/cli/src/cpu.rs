//! The CPU features this binary was compiled to use, checked against the CPU it runs on.
//!
//! Inside the workspace the build targets the CPU of the machine that builds (`-C
//! target-cpu=native` in `.cargo/config.toml`). Copied to a CPU without one of those features
//! (a VAES build started on a Skylake, say), the binary would die of SIGILL at the first such
//! instruction, with no word of why; `main` asks first and says what is missing and how to
//! build a binary that runs there.
//!
//! A best effort. The check runs first in `main`, but it and the runtime's start-up are
//! compiled like the rest, so a missing feature that the compiler used anywhere on the way to
//! the message still ends in SIGILL. Measured on this AVX2 machine without AVX-512 or GFNI: a
//! release build with `+avx512f` dies in the runtime's start-up, before `main`; one with
//! `+gfni` stops with the message (it died in std's formatting until [`report`] wrote fixed
//! strings only).

/// A feature: its name, whether this build was compiled to use it, whether this CPU has it.
type Feature = (&'static str, bool, bool);

/// Defines, from one list of (name, CPUID leaf, register: 0 `ebx` or 1 `ecx`, bit),
/// `features()` and, for the tests, `std_detected()`. `features()` reads CPUID itself:
/// `is_x86_feature_detected!` answers yes, without asking the CPU, for every feature the build
/// enables, which is the question here.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_features {
    ($(($f:tt, $leaf:expr, $reg:expr, $bit:expr)),* $(,)?) => {
        /// The x86-64 features worth checking, with what this build and this CPU say of each.
        fn features() -> Vec<Feature> {
            let cpuid = Cpuid::read();
            vec![$(($f, cfg!(target_feature = $f), cpuid.bit($leaf, $reg, $bit))),*]
        }

        /// The standard library's detection of the same features, in the same order.
        #[cfg(test)]
        fn std_detected() -> Vec<(&'static str, bool)> {
            vec![$(($f, std::arch::is_x86_feature_detected!($f))),*]
        }
    };
}

/// The CPUID leaves the features live in (subleaf 0), each read once; a leaf past the CPU's
/// highest reads as zeros.
#[cfg(target_arch = "x86_64")]
struct Cpuid {
    leaf1: [u32; 2],
    leaf7: [u32; 2],
    ext1: [u32; 2],
}

#[cfg(target_arch = "x86_64")]
impl Cpuid {
    fn read() -> Self {
        use std::arch::x86_64::__cpuid_count;
        let max = __cpuid_count(0, 0).eax;
        let max_ext = __cpuid_count(0x8000_0000, 0).eax;
        let regs = |leaf: u32, top: u32| {
            if leaf > top {
                return [0, 0];
            }
            let r = __cpuid_count(leaf, 0);
            [r.ebx, r.ecx]
        };
        Cpuid {
            leaf1: regs(1, max),
            leaf7: regs(7, max),
            ext1: regs(0x8000_0001, max_ext),
        }
    }

    /// Whether `leaf` sets `bit` of `ebx` (`reg` 0) or `ecx` (1).
    fn bit(&self, leaf: u32, reg: usize, bit: u32) -> bool {
        let regs = match leaf {
            1 => self.leaf1,
            7 => self.leaf7,
            _ => self.ext1,
        };
        regs.get(reg).is_some_and(|w| w >> bit & 1 == 1)
    }
}

// Beyond the x86-64 baseline, what `target-cpu=native` enables on the CPUs crypta runs on,
// with their CPUID bits (Intel SDM vol. 2A, CPUID).
#[cfg(target_arch = "x86_64")]
x86_features![
    ("sse3", 1, 1, 0),
    ("pclmulqdq", 1, 1, 1),
    ("ssse3", 1, 1, 9),
    ("fma", 1, 1, 12),
    ("sse4.1", 1, 1, 19),
    ("sse4.2", 1, 1, 20),
    ("movbe", 1, 1, 22),
    ("popcnt", 1, 1, 23),
    ("aes", 1, 1, 25),
    ("avx", 1, 1, 28),
    ("f16c", 1, 1, 29),
    ("bmi1", 7, 0, 3),
    ("avx2", 7, 0, 5),
    ("bmi2", 7, 0, 8),
    ("avx512f", 7, 0, 16),
    ("avx512dq", 7, 0, 17),
    ("adx", 7, 0, 19),
    ("sha", 7, 0, 29),
    ("avx512bw", 7, 0, 30),
    ("avx512vl", 7, 0, 31),
    ("gfni", 7, 1, 8),
    ("vaes", 7, 1, 9),
    ("vpclmulqdq", 7, 1, 10),
    ("lzcnt", 0x8000_0001, 1, 5),
];

#[cfg(not(target_arch = "x86_64"))]
fn features() -> Vec<Feature> {
    Vec::new()
}

/// The features of `features` this build uses and the CPU lacks.
fn missing_of(features: &[Feature]) -> Vec<&'static str> {
    features
        .iter()
        .filter(|(_, compiled, present)| *compiled && !*present)
        .map(|(name, _, _)| *name)
        .collect()
}

/// The CPU features this binary uses that this CPU does not have (none, normally).
pub(crate) fn missing() -> Vec<&'static str> {
    missing_of(&features())
}

/// Says on stderr which features are missing and what to do. Writes fixed strings only, no
/// formatting: the less code runs here, the less of it can use a missing instruction (std's
/// formatting does, measured with `+gfni`).
pub(crate) fn report(missing: &[&str]) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(b"crypta: this binary was built for another CPU: it uses");
    for (i, f) in missing.iter().enumerate() {
        let _ = e.write_all(if i == 0 { b" " } else { b", " });
        let _ = e.write_all(f.as_bytes());
    }
    let _ = e.write_all(
        b", which this CPU does not have. Build it on this machine, or build one that runs on \
          any x86-64 CPU: RUSTFLAGS=\"-C target-cpu=x86-64-v2\" cargo build --release -p \
          crypta-cli\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_features_used_and_missing() {
        let f = [
            ("avx2", true, true),
            ("vaes", true, false),
            ("avx512f", false, false),
            ("vpclmulqdq", true, false),
        ];
        assert_eq!(missing_of(&f), ["vaes", "vpclmulqdq"]);
        assert!(missing_of(&[("aes", true, true), ("sha", false, false)]).is_empty());
    }

    /// The tests run where they were built: nothing this build uses can be missing, and the
    /// check passes (a feature name the detection misreads would fail it here).
    #[test]
    fn the_building_machine_has_what_the_build_uses() {
        assert_eq!(missing(), Vec::<&str>::new());
        #[cfg(all(target_arch = "x86_64", target_feature = "aes"))]
        assert!(features().iter().any(|(n, c, p)| *n == "aes" && *c && *p));
    }

    /// The CPUID bits read the same as the standard library's detection, feature by feature,
    /// on the machine the tests run on (a wrong bit shows here whenever the two disagree).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn cpuid_bits_agree_with_std_detect() {
        let ours: Vec<(&str, bool)> = features().iter().map(|(n, _, p)| (*n, *p)).collect();
        assert_eq!(ours, std_detected());
    }
}
