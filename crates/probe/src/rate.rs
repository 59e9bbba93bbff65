//! Rate control: a token bucket for new connections and an auto-tuning state machine that slows
//! down when the network shows distress (timeouts, resets, local resource errors) and speeds back
//! up, never above the user's ceiling, when it is healthy.
//!
//! [`AutoTune`] is pure (no clock, no I/O) so its behaviour is unit-tested; [`RateLimiter`] wires it
//! to tokio time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Outcome counts over one observation window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Connection attempts that completed (any outcome).
    pub attempts: u64,
    /// Connect or read timeouts.
    pub timeouts: u64,
    /// Resets of established connections (not refusals of closed ports: those are normal).
    pub resets: u64,
    /// Local resource errors (no file descriptors, no ephemeral ports, no buffers): always a
    /// reason to slow down at once.
    pub local: u64,
}

/// State of the auto-tuner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuneState {
    /// Ramping up towards the ceiling.
    Healthy,
    /// Slowed down; must see `recover_windows` healthy windows before speeding up again.
    Backoff { healthy_streak: u32 },
}

/// Decision for the next window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub rate: f64,
    pub state: TuneState,
}

/// Auto-tuning rate state machine (in the spirit of feroxbuster's auto-tune / auto-bail).
#[derive(Debug, Clone)]
pub struct AutoTune {
    pub ceiling: f64,
    pub floor: f64,
    rate: f64,
    state: TuneState,
    /// Error ratio (timeouts + resets over attempts) above which we halve.
    pub high: f64,
    /// Error ratio below which a window counts as healthy.
    pub low: f64,
    /// Windows with fewer attempts than this carry too little signal and change nothing.
    pub min_attempts: u64,
    pub recover_windows: u32,
}

impl AutoTune {
    pub fn new(ceiling: f64) -> Self {
        let ceiling = ceiling.max(1.0);
        Self {
            ceiling,
            floor: (ceiling / 64.0).max(1.0),
            rate: ceiling,
            state: TuneState::Healthy,
            high: 0.25,
            low: 0.05,
            min_attempts: 20,
            recover_windows: 3,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn state(&self) -> TuneState {
        self.state
    }

    /// Feed one window, get the rate for the next.
    pub fn on_window(&mut self, w: Window) -> Decision {
        if w.local > 0 {
            self.rate = (self.rate / 2.0).max(self.floor);
            self.state = TuneState::Backoff { healthy_streak: 0 };
            return self.decision();
        }
        if w.attempts < self.min_attempts {
            return self.decision();
        }
        let ratio = (w.timeouts + w.resets) as f64 / w.attempts as f64;
        if ratio > self.high {
            self.rate = (self.rate / 2.0).max(self.floor);
            self.state = TuneState::Backoff { healthy_streak: 0 };
        } else if ratio < self.low {
            match self.state {
                TuneState::Healthy => self.rate = (self.rate * 1.25).min(self.ceiling),
                TuneState::Backoff { healthy_streak } => {
                    let s = healthy_streak + 1;
                    if s >= self.recover_windows {
                        self.state = TuneState::Healthy;
                        self.rate = (self.rate * 1.25).min(self.ceiling);
                    } else {
                        self.state = TuneState::Backoff { healthy_streak: s };
                    }
                }
            }
        } else if let TuneState::Backoff { .. } = self.state {
            // middling: hold the rate, restart the recovery count
            self.state = TuneState::Backoff { healthy_streak: 0 };
        }
        self.decision()
    }

    fn decision(&self) -> Decision {
        Decision {
            rate: self.rate,
            state: self.state,
        }
    }
}

/// Async rate limiter whose rate follows an [`AutoTune`], re-evaluated every `window`.
///
/// It schedules by reservation (the generic cell rate algorithm): each [`acquire`] takes the next
/// free slot on a virtual timeline spaced `1/rate` apart and sleeps once, until that slot. Up to
/// `burst` slots may lie in the past after an idle spell. Unlike a token bucket polled by every
/// waiter, thousands of waiting tasks cost one timer each instead of waking and re-sleeping on
/// every tick (which made loopback scans CPU-bound in the timer wheel).
///
/// [`acquire`]: RateLimiter::acquire
pub struct RateLimiter {
    inner: Mutex<Inner>,
    window: Duration,
    auto: bool,
}

struct Inner {
    tune: AutoTune,
    /// The next free slot (the "theoretical arrival time").
    next: Instant,
    burst: f64,
    win_start: Instant,
    win: Window,
}

impl RateLimiter {
    /// `rate` slots per second at most; `auto` enables auto-tuning below that ceiling.
    pub fn new(rate: f64, auto: bool) -> Self {
        let tune = AutoTune::new(rate);
        let burst = (rate / 20.0).clamp(1.0, 256.0);
        let now = Instant::now();
        Self {
            inner: Mutex::new(Inner {
                tune,
                next: now,
                burst,
                win_start: now,
                win: Window::default(),
            }),
            window: Duration::from_millis(500),
            auto,
        }
    }

    /// Current rate (slots per second).
    pub fn rate(&self) -> f64 {
        self.inner.lock().map(|i| i.tune.rate()).unwrap_or(1.0)
    }

    /// Reserve the next slot; returns when it is due (sleeping at most once).
    pub async fn acquire(&self) {
        let slot = {
            let Ok(mut g) = self.inner.lock() else { return };
            let now = Instant::now();
            let interval = Duration::from_secs_f64(1.0 / g.tune.rate().max(f64::MIN_POSITIVE));
            // after an idle spell the timeline restarts at most `burst` slots in the past
            let earliest = now.checked_sub(interval.mul_f64(g.burst)).unwrap_or(now);
            let slot = g.next.max(earliest);
            g.next = slot + interval;
            slot
        };
        if slot > Instant::now() {
            tokio::time::sleep_until(tokio::time::Instant::from_std(slot)).await;
        }
    }

    /// Record an outcome; closes the window and re-tunes when it is due.
    pub fn record(&self, timeout: bool, reset: bool, local: bool) {
        let Ok(mut g) = self.inner.lock() else { return };
        g.win.attempts += 1;
        g.win.timeouts += timeout as u64;
        g.win.resets += reset as u64;
        g.win.local += local as u64;
        let now = Instant::now();
        if self.auto && (now.duration_since(g.win_start) >= self.window || local) {
            let w = std::mem::take(&mut g.win);
            g.win_start = now;
            let before = g.tune.rate();
            let d = g.tune.on_window(w);
            if (d.rate - before).abs() > f64::EPSILON {
                tracing::debug!(from = before, to = d.rate, ?d.state, "rate re-tuned");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(attempts: u64, timeouts: u64) -> Window {
        Window {
            attempts,
            timeouts,
            ..Default::default()
        }
    }

    #[test]
    fn halves_on_distress_and_never_below_floor() {
        let mut t = AutoTune::new(1000.0);
        assert_eq!(t.on_window(w(100, 50)).rate, 500.0);
        assert!(matches!(t.state(), TuneState::Backoff { .. }));
        for _ in 0..20 {
            t.on_window(w(100, 90));
        }
        assert_eq!(t.rate(), t.floor);
    }

    #[test]
    fn recovers_only_after_consecutive_healthy_windows_up_to_ceiling() {
        let mut t = AutoTune::new(1000.0);
        t.on_window(w(100, 60));
        assert_eq!(t.rate(), 500.0);
        t.on_window(w(100, 0));
        t.on_window(w(100, 0));
        assert_eq!(
            t.rate(),
            500.0,
            "still backing off after two healthy windows"
        );
        t.on_window(w(100, 10)); // middling window restarts the count
        t.on_window(w(100, 0));
        t.on_window(w(100, 0));
        assert_eq!(t.rate(), 500.0);
        t.on_window(w(100, 0));
        assert_eq!(t.rate(), 625.0);
        assert_eq!(t.state(), TuneState::Healthy);
        for _ in 0..10 {
            t.on_window(w(100, 0));
        }
        assert_eq!(t.rate(), 1000.0, "capped at the user's ceiling");
    }

    #[test]
    fn small_windows_change_nothing_but_local_errors_always_do() {
        let mut t = AutoTune::new(1000.0);
        assert_eq!(t.on_window(w(5, 5)).rate, 1000.0);
        let d = t.on_window(Window {
            attempts: 1,
            local: 1,
            ..Default::default()
        });
        assert_eq!(d.rate, 500.0);
        let mut r = AutoTune::new(1000.0);
        assert_eq!(
            r.on_window(Window {
                attempts: 100,
                resets: 40,
                ..Default::default()
            })
            .rate,
            500.0
        );
    }

    #[tokio::test]
    async fn bucket_limits_the_rate() {
        let rl = RateLimiter::new(200.0, false);
        let start = Instant::now();
        for _ in 0..60 {
            rl.acquire().await;
        }
        // burst of 10 then 50 more at 200/s = 0.25 s
        let el = start.elapsed().as_secs_f64();
        assert!(el >= 0.2, "too fast: {el}");
        assert!(el < 1.5, "too slow: {el}");
    }

    /// Many concurrent waiters share one timeline: the total still follows the rate, and each
    /// waiter sleeps once (no thundering herd re-polling the limiter).
    #[tokio::test]
    async fn concurrent_waiters_share_the_rate() {
        let rl = std::sync::Arc::new(RateLimiter::new(1000.0, false));
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..500 {
            let rl = rl.clone();
            set.spawn(async move { rl.acquire().await });
        }
        while set.join_next().await.is_some() {}
        // burst of 50, then 450 at 1000/s = 0.45 s
        let el = start.elapsed().as_secs_f64();
        assert!(el >= 0.4, "too fast: {el}");
        assert!(el < 2.0, "too slow: {el}");
    }

    #[tokio::test]
    async fn idle_time_does_not_bank_more_than_the_burst() {
        let rl = RateLimiter::new(100.0, false); // burst 5
        tokio::time::sleep(Duration::from_millis(300)).await; // would bank 30 slots unbounded
        let start = Instant::now();
        for _ in 0..15 {
            rl.acquire().await;
        }
        // 5 at once, 10 more at 100/s = 0.1 s
        let el = start.elapsed().as_secs_f64();
        assert!(el >= 0.08, "idle time banked too many slots: {el}");
    }
}
