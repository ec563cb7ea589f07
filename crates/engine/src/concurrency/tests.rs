//! The limit's behaviour, in paused time: throttling, the slow start, the search.

use super::*;

#[tokio::test(start_paused = true)]
async fn halves_on_throttling_and_climbs_back() {
    let c = Concurrency::fixed(16);
    c.adjust(1, 0);
    assert_eq!(c.current(), 8, "halved");
    c.adjust(2, 0);
    assert_eq!(c.current(), 8, "one decrease per cool-down");
    tokio::time::advance(COOL_DOWN + GROWTH_INTERVAL).await;
    c.adjust(2, 10);
    assert_eq!(c.current(), 10, "climbs by a quarter when calm");
    for step in 0..20 {
        tokio::time::advance(GROWTH_INTERVAL).await;
        c.adjust(2, 20 + step);
    }
    assert_eq!(c.current(), 16, "up to the ceiling, not beyond");
    tokio::task::yield_now().await;
    assert_eq!(
        c.semaphore.available_permits(),
        16,
        "permits follow the limit"
    );
}

/// Runs one measuring window in which every slot is busy (`busy`) or none is, and
/// `rate` units per second are done; returns the limit after it.
async fn window(c: &Concurrency, throughput: &mut u64, rate: u64, busy: bool) -> usize {
    let held = busy.then(|| {
        c.semaphore
            .clone()
            .try_acquire_many_owned(c.current() as u32)
    });
    for _ in 0..(WINDOW.as_millis() / TICK.as_millis()) {
        tokio::time::advance(TICK).await;
        // In thousandths: a rate a tick does not divide keeps its share.
        *throughput += rate * TICK.as_millis() as u64;
        c.adjust(0, *throughput);
    }
    drop(held);
    tokio::task::yield_now().await;
    c.current()
}

/// A raise, the window left to settle, and the window that judges it.
async fn probe(c: &Concurrency, done: &mut u64, rate: u64) -> usize {
    window(c, done, rate, true).await;
    window(c, done, rate, true).await
}

/// `auto` past its slow start: the search alone.
fn searching() -> Concurrency {
    let c = Concurrency::auto();
    c.state.lock().unwrap().slow_start = false;
    c
}

/// One tick in which every slot is busy (`busy`) and the fastest answer took `latency`;
/// returns the limit after it.
async fn tick(c: &Concurrency, latency: Duration, busy: bool) -> usize {
    let held = busy.then(|| {
        c.semaphore
            .clone()
            .try_acquire_many_owned(c.current() as u32)
    });
    tokio::time::advance(TICK).await;
    c.observe(Lane::Dest, latency);
    c.observe(Lane::Dest, latency * 3);
    c.adjust(0, 0);
    drop(held);
    tokio::task::yield_now().await;
    c.current()
}

#[tokio::test(start_paused = true)]
async fn auto_opens_up_once_a_round_trip_while_answers_stay_fast() {
    for rtt_ticks in [1, 2, 6] {
        let c = Concurrency::auto();
        let rtt = TICK * rtt_ticks;
        let mut seen = Vec::new();
        while seen.len() < 6 * rtt_ticks as usize {
            seen.push(tick(&c, rtt, true).await);
        }
        // A raise, then two round trips' answers before the next.
        let raises: Vec<usize> = seen
            .iter()
            .step_by(2 * rtt_ticks as usize)
            .copied()
            .collect();
        assert_eq!(
            raises,
            [16, 64, 64].map(|x| x * AUTO_START),
            "a round trip of {rtt:?}: {seen:?}"
        );
        assert!(!c.state.lock().unwrap().slow_start, "over at the ceiling");
    }
}

#[tokio::test(start_paused = true)]
async fn auto_slow_start_ends_when_even_the_fastest_answers_slow_down() {
    let c = Concurrency::auto();
    let fast = Duration::from_millis(1);
    assert_eq!(
        tick(&c, fast, false).await,
        AUTO_START,
        "idle slots: no raise"
    );
    assert_eq!(tick(&c, fast, true).await, 16 * AUTO_START);
    // Queueing: the answers take 4 times as long; a quarter as many in flight.
    assert_eq!(tick(&c, fast * 4, true).await, 4 * AUTO_START);
    // The same with this process's workers busy all the while: part of the wait is
    // its own, and twice as many are kept.
    let c = Concurrency::auto();
    c.observe_client_load(0.95);
    assert_eq!(tick(&c, fast, true).await, 16 * AUTO_START);
    assert_eq!(tick(&c, fast * 4, true).await, 8 * AUTO_START);
    // A server far behind: back to where it was before the raise, not below.
    let c = Concurrency::auto();
    assert_eq!(tick(&c, fast, true).await, 16 * AUTO_START);
    assert_eq!(tick(&c, fast * 100, true).await, AUTO_START);
    let state = c.state.lock().unwrap();
    assert!(!state.slow_start && !state.doubling);
}

/// One busy tick, two round trips after the last, in which the source's fastest answer
/// took `source` and the destination's `dest`; returns the limit after it.
async fn two_lane_tick(c: &Concurrency, source: Duration, dest: Duration) -> usize {
    let held = c
        .semaphore
        .clone()
        .try_acquire_many_owned(c.current() as u32);
    tokio::time::advance(2 * (source + dest)).await;
    c.observe(Lane::Source, source);
    c.observe(Lane::Dest, dest);
    c.adjust(0, 0);
    drop(held);
    tokio::task::yield_now().await;
    c.current()
}

#[tokio::test(start_paused = true)]
async fn a_near_destination_slowing_down_behind_a_far_source_is_not_queueing() {
    let (far, near) = (Duration::from_millis(150), Duration::from_millis(1));
    let c = Concurrency::auto();
    assert_eq!(two_lane_tick(&c, far, near).await, 16 * AUTO_START);
    // Each object now takes 160 ms instead of 151: no reason to hold back.
    assert_eq!(two_lane_tick(&c, far, near * 10).await, AUTO_CEILING);
    // Timed as one, the destination's tenfold would have cut the limit to a tenth.
    let c = Concurrency::auto();
    assert_eq!(two_lane_tick(&c, far, near).await, 16 * AUTO_START);
    // The destination saturated (80 ms for an answer): each object takes half as long
    // again, and the limit is scaled down by as much, even with this process's workers
    // busy all the while (the source's answers stayed fast: the destination queues).
    c.observe_client_load(1.0);
    let slowed = two_lane_tick(&c, far, near * 80).await;
    assert_eq!(slowed, 16 * AUTO_START * 151 / 230);
}

#[tokio::test(start_paused = true)]
async fn auto_doubles_while_throughput_follows_then_steps_back() {
    let c = searching();
    let mut done = 0;
    assert_eq!(
        window(&c, &mut done, 10, true).await,
        AUTO_START,
        "start: not judged"
    );
    assert_eq!(window(&c, &mut done, 100, true).await, 2 * AUTO_START);
    // Throughput grows with the limit (a long round trip): keep doubling.
    assert_eq!(probe(&c, &mut done, 200).await, 4 * AUTO_START);
    assert_eq!(probe(&c, &mut done, 400).await, 8 * AUTO_START);
    // The server is saturated: the raise did not pay and is taken back.
    assert_eq!(probe(&c, &mut done, 410).await, 4 * AUTO_START);
    // No step during the pause, however busy.
    assert_eq!(pause(&c, &mut done, 400).await, [4 * AUTO_START]);
    // After it, the search looks down: a quarter fewer.
    assert_eq!(window(&c, &mut done, 400, true).await, 3 * AUTO_START);
    // That cost throughput: taken back, and after a pause a raise by a quarter.
    assert_eq!(probe(&c, &mut done, 300).await, 4 * AUTO_START);
    assert_eq!(pause(&c, &mut done, 400).await, [4 * AUTO_START]);
    assert_eq!(window(&c, &mut done, 400, true).await, 5 * AUTO_START);
}

/// Busy windows at `rate` for [`PROBE_PAUSE`] but the last; returns the limits seen.
async fn pause(c: &Concurrency, done: &mut u64, rate: u64) -> Vec<usize> {
    let mut limits = Vec::new();
    for _ in 1..(PROBE_PAUSE.as_millis() / WINDOW.as_millis()) {
        let limit = window(c, done, rate, true).await;
        if limits.last() != Some(&limit) {
            limits.push(limit);
        }
    }
    limits
}

/// `auto`'s search at the ceiling, after one window there.
async fn searching_at_the_ceiling(done: &mut u64, rate: u64) -> Concurrency {
    let c = searching();
    c.grow_to(AUTO_CEILING);
    window(&c, done, rate, true).await;
    c
}

#[tokio::test(start_paused = true)]
async fn auto_steps_down_from_an_overshoot_while_throughput_holds() {
    // A client short of CPU: the same rate at any limit.
    let mut done = 0;
    let c = searching_at_the_ceiling(&mut done, 1000).await;
    let mut limits = vec![window(&c, &mut done, 1000, true).await];
    for _ in 0..4 {
        limits.push(probe(&c, &mut done, 1000).await);
    }
    assert_eq!(
        limits,
        [768, 576, 432, 324, 243],
        "a quarter down each step"
    );
    // Below 243 the rate falls: the step is taken back, and the search turns upwards.
    assert_eq!(probe(&c, &mut done, 700).await, 324);
    assert!(!c.state.lock().unwrap().stepping_down);
}

#[tokio::test(start_paused = true)]
async fn auto_at_the_ceiling_of_a_far_bucket_looks_down_ever_more_rarely() {
    // A far bucket: the rate follows the limit.
    let rate = |c: &Concurrency| 10 * c.current() as u64;
    let mut done = 0;
    let c = searching_at_the_ceiling(&mut done, 10 * AUTO_CEILING as u64).await;
    let mut lowered_after = Vec::new();
    let mut windows = 0;
    while lowered_after.len() < 4 {
        let before = c.current();
        let after = window(&c, &mut done, rate(&c), true).await;
        windows += 1;
        if after < before {
            lowered_after.push(windows);
            assert_eq!(after, 768);
            // The step is judged and taken back.
            window(&c, &mut done, rate(&c), true).await;
            assert_eq!(window(&c, &mut done, rate(&c), true).await, AUTO_CEILING);
            windows += 2;
        }
    }
    let pauses: Vec<u32> = lowered_after.windows(2).map(|w| w[1] - w[0]).collect();
    let per_second = (Duration::from_secs(1).as_millis() / WINDOW.as_millis()) as u32;
    assert_eq!(
        pauses,
        [10, 20, 40].map(|s| s * per_second + 2),
        "windows between steps down: the pause doubles"
    );
}

#[tokio::test(start_paused = true)]
async fn auto_does_not_raise_while_slots_are_idle() {
    let c = searching();
    let mut done = 0;
    for _ in 0..5 {
        assert_eq!(
            window(&c, &mut done, 100, false).await,
            AUTO_START,
            "work arrives slower than the limit allows: a raise would prove nothing"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn auto_halves_on_throttling_and_stops_doubling() {
    let c = searching();
    let mut done = 0;
    window(&c, &mut done, 10, true).await;
    assert_eq!(window(&c, &mut done, 100, true).await, 2 * AUTO_START);
    c.adjust(1, done);
    assert_eq!(c.current(), AUTO_START);
    tokio::time::advance(COOL_DOWN).await;
    assert_eq!(
        window(&c, &mut done, 100, true).await,
        AUTO_START + AUTO_START / 4,
        "after throttling, raises are small"
    );
}
