//! The clock of the key file's refresh checks, read on every key lookup (each chunk a reader
//! decodes asks for its key by id).
//!
//! On Linux it is `CLOCK_MONOTONIC_COARSE`, which the vDSO reads from memory: about 3 ns,
//! where `Instant::now` (`CLOCK_MONOTONIC`) took 20 ns on the project's VM, 2 % of a cold
//! SSTable lookup. Its resolution is the kernel tick (1 to 10 ms); a check falls due up to one
//! tick early rather than late (see [`Clock::slack`]). Elsewhere it is [`Instant`].

#[cfg(not(target_os = "linux"))]
use std::time::Instant;

pub(super) struct Clock {
    #[cfg(target_os = "linux")]
    epoch: u64,
    #[cfg(not(target_os = "linux"))]
    epoch: Instant,
    slack: u64,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("slack_ns", &self.slack)
            .finish_non_exhaustive()
    }
}

impl Clock {
    pub(super) fn new() -> Self {
        #[cfg(target_os = "linux")]
        {
            use rustix::time::{ClockId, clock_getres};
            Clock {
                epoch: raw(),
                slack: nanos(clock_getres(ClockId::MonotonicCoarse)),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            Clock {
                epoch: Instant::now(),
                slack: 0,
            }
        }
    }

    /// Nanoseconds since the clock was made (saturating: 584 years).
    pub(super) fn now(&self) -> u64 {
        #[cfg(target_os = "linux")]
        {
            raw().saturating_sub(self.epoch)
        }
        #[cfg(not(target_os = "linux"))]
        {
            u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
        }
    }

    /// The clock's resolution in nanoseconds: two readings `d` apart may differ by up to `d`
    /// plus this, or minus it.
    pub(super) fn slack(&self) -> u64 {
        self.slack
    }
}

#[cfg(target_os = "linux")]
fn raw() -> u64 {
    nanos(rustix::time::clock_gettime(
        rustix::time::ClockId::MonotonicCoarse,
    ))
}

#[cfg(target_os = "linux")]
fn nanos(t: rustix::time::Timespec) -> u64 {
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::Clock;
    use std::time::{Duration, Instant};

    #[test]
    fn the_clock_follows_real_time_within_its_slack() {
        let c = Clock::new();
        assert!(c.slack() < 100_000_000, "{c:?}");
        let (t0, r0) = (c.now(), Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        let (t1, r1) = (c.now(), Instant::now());
        let real = u64::try_from(r1.duration_since(r0).as_nanos()).unwrap_or(u64::MAX);
        let seen = t1 - t0;
        assert!(seen + c.slack() >= real, "{seen} + {} < {real}", c.slack());
        assert!(seen <= real + c.slack() + 5_000_000, "{seen} vs {real}");
    }
}
