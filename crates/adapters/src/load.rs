//! Synthetic traffic for a quiet environment's monitoring window, so its analysis has
//! requests to judge: `GET /` at a fixed rate, spread over the environment's own replicas
//! (their addresses as the target reaches them, nothing else), each request with a timeout
//! and at most [`MAX_IN_FLIGHT`] at once, and bounded three ways: a total, a deadline of its
//! own, and dropping the [`Load`] (the window ended or the flow failed) stops it at once. How one request reaches a replica
//! is the target's ([`SendOne`]): plain HTTP to a published port on the local target
//! ([`over_http`]), the API server's pod proxy on Kubernetes. Each request's [`Answer`] is
//! counted ([`Load::counts`]): a request that hung, was reset or crashed its handler never
//! reaches the replica's counters, so the analysis takes the sender's word for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;

use model::LoadCounts;

/// No window sends more than this, whatever its rate and length.
pub const MAX_REQUESTS: u64 = 100_000;

/// How one synthetic request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A whole answer with a success status (2xx) or a redirect (3xx).
    Served,
    /// A whole answer refusing the request (below 200, or 4xx): the service did not do what
    /// it is for. The replica counts it as served, not as an error, so the sender's count is
    /// the evidence (a build answering 401 to everyone must not pass its watch).
    Rejected,
    /// A whole answer of 500 or more.
    ServerError,
    /// No whole answer: timed out, reset, refused.
    Unanswered,
}

impl Answer {
    /// From an HTTP status code.
    pub fn of_status(status: u16) -> Self {
        match status {
            500.. => Self::ServerError,
            200..=399 => Self::Served,
            _ => Self::Rejected,
        }
    }
}

/// Sends one `GET /` to the replica at the given address and says how it ended. Bounded in
/// time by the sender.
pub type SendOne = Arc<dyn Fn(String) -> BoxFuture<'static, Answer> + Send + Sync>;

/// How a target's load reaches its replicas: one request, and how many may be in flight at
/// once. At that many, a tick sends nothing (the rate drops rather than the requests pile
/// up where they would hurt: through the API server, its seats are the probes' too).
#[derive(Clone)]
pub struct Sender {
    pub send: SendOne,
    pub most_in_flight: usize,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("most_in_flight", &self.most_in_flight)
            .finish_non_exhaustive()
    }
}

/// Plain HTTP to `http://127.0.0.1:PORT` addresses, with a 2s timeout, at most
/// [`MAX_IN_FLIGHT`] at once. A client that cannot be built answers nothing: every request
/// then counts as unanswered.
pub fn over_http() -> Sender {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .ok();
    let send: SendOne = Arc::new(move |base: String| {
        let client = client.clone();
        Box::pin(async move {
            let Some(client) = client else {
                return Answer::Unanswered;
            };
            match client.get(format!("{base}/")).send().await {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    match answer.bytes().await {
                        Ok(_) => Answer::of_status(status),
                        Err(_) => Answer::Unanswered,
                    }
                }
                Err(_) => Answer::Unanswered,
            }
        })
    });
    Sender {
        send,
        most_in_flight: MAX_IN_FLIGHT,
    }
}

/// How much load, to where, for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPlan {
    /// Replica addresses, as the target's [`SendOne`] takes them (`http://127.0.0.1:PORT`;
    /// a pod proxy path).
    pub urls: Vec<String>,
    /// Requests per second.
    pub rate: f64,
    /// Stop after this long even if nobody stops it.
    pub until: Duration,
}

impl LoadPlan {
    /// Requests sent at most: `rate × until`, capped by [`MAX_REQUESTS`].
    pub fn budget(&self) -> u64 {
        let wanted = (self.rate * self.until.as_secs_f64()).ceil();
        if wanted.is_finite() && wanted > 0.0 {
            (wanted as u64).min(MAX_REQUESTS)
        } else {
            0
        }
    }
}

/// What the load has seen so far, shared with its task.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    server_errors: AtomicU64,
    rejected: AtomicU64,
    unanswered: AtomicU64,
}

/// Running load; stops when dropped.
#[derive(Debug)]
pub struct Load {
    task: JoinHandle<()>,
    counters: Arc<Counters>,
}

impl Load {
    /// Starts sending `plan`'s requests through `sender`. Nothing is sent without URLs or a
    /// positive rate.
    pub fn start(plan: LoadPlan, sender: Sender) -> Self {
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move { run(plan, sender, shared).await });
        Self { task, counters }
    }

    /// Requests sent so far (answered or not).
    pub fn sent(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// How the requests sent so far ended. A request still in flight counts as sent only.
    pub fn counts(&self) -> LoadCounts {
        LoadCounts {
            sent: self.sent(),
            server_errors: self.counters.server_errors.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            unanswered: self.counters.unanswered.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Requests in flight at once, at most, over plain HTTP: 200/s (the highest rate) for longer
/// than a second each. Past it a tick sends nothing.
pub const MAX_IN_FLIGHT: usize = 256;

/// Sends at a fixed rate whatever the replicas' latency (an open model: a slow build still
/// gets its requests, so a slow window is judged on as much evidence as a fast one), each
/// request concurrently (up to the sender's bound), until the budget, the deadline or a drop.
async fn run(plan: LoadPlan, sender: Sender, counters: Arc<Counters>) {
    use futures_util::StreamExt;
    let budget = plan.budget();
    if plan.urls.is_empty() || budget == 0 {
        return;
    }
    let deadline = tokio::time::Instant::now() + plan.until;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / plan.rate));
    // After a stall (a paused runtime), go on at the rate rather than send a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    let mut sent = 0;
    let count = |answer| {
        match answer {
            Answer::ServerError => counters.server_errors.fetch_add(1, Ordering::Relaxed),
            Answer::Rejected => counters.rejected.fetch_add(1, Ordering::Relaxed),
            Answer::Unanswered => counters.unanswered.fetch_add(1, Ordering::Relaxed),
            Answer::Served => 0,
        };
    };
    while sent < budget || !in_flight.is_empty() {
        // Whatever is still in flight at the deadline is cut short: not the replica's
        // fault, so it counts as sent only.
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return,
            Some(answer) = in_flight.next(), if !in_flight.is_empty() => count(answer),
            _ = ticks.tick(), if sent < budget => {
                // At the bound the tick passes unsent (it still spends the budget, so the
                // load ends on time).
                let url = plan.urls[(sent as usize) % plan.urls.len()].clone();
                sent += 1;
                if in_flight.len() < sender.most_in_flight.max(1) {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    in_flight.push((sender.send)(url));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_budget_is_rate_times_time_and_capped() {
        let plan = |rate, secs| LoadPlan {
            urls: vec!["http://127.0.0.1:1".to_owned()],
            rate,
            until: Duration::from_secs(secs),
        };
        assert_eq!(plan(5.0, 60).budget(), 300);
        assert_eq!(plan(0.5, 3).budget(), 2);
        assert_eq!(plan(200.0, 86_400).budget(), MAX_REQUESTS);
        assert_eq!(plan(0.0, 60).budget(), 0);
        assert_eq!(plan(f64::NAN, 60).budget(), 0);
    }

    /// A server on 127.0.0.1 that counts the requests it answers.
    async fn counting_server() -> (String, Arc<AtomicU64>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        counter.fetch_add(1, Ordering::Relaxed);
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                    }
                });
            }
        });
        (url, seen)
    }

    /// Waits (up to 10s) until `seen` counts more than nothing.
    async fn first_request(seen: &AtomicU64) {
        for _ in 0..200 {
            if seen.load(Ordering::Relaxed) > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no request arrived");
    }

    #[tokio::test]
    async fn sends_at_most_its_budget_and_stops_by_itself() {
        let (url, seen) = counting_server().await;
        let load = Load::start(
            LoadPlan {
                urls: vec![url],
                rate: 20.0,
                until: Duration::from_secs(1),
            },
            over_http(),
        );
        first_request(&seen).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sent = load.sent();
        assert!((1..=20).contains(&sent), "{sent} sent for a budget of 20");
        // Every request the server saw was counted as sent. One still in flight at the
        // deadline is cut short and counts as sent only (it may never reach the server): at
        // 20/s, one apart every 50ms, a loaded machine may have a request or two in flight.
        let reached = seen.load(Ordering::Relaxed);
        assert!(
            reached <= sent && sent - reached <= 2,
            "{reached} of {sent} sent reached the server"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(load.sent(), sent, "it stopped at its deadline");
    }

    #[tokio::test]
    async fn dropping_it_stops_it() {
        let (url, seen) = counting_server().await;
        let load = Load::start(
            LoadPlan {
                urls: vec![url],
                rate: 100.0,
                until: Duration::from_secs(60),
            },
            over_http(),
        );
        first_request(&seen).await;
        drop(load);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after_drop = seen.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(seen.load(Ordering::Relaxed), after_drop);
    }

    /// A server on 127.0.0.1 whose n-th connection gets: a 500, a 200 after `delay`, or a
    /// closed socket (no answer), in turn.
    async fn mixed_server(delay: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let mut n = 0u64;
            while let Ok((mut socket, _)) = listener.accept().await {
                n += 1;
                let turn = n % 3;
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = socket.read(&mut buf).await;
                    let answer: &[u8] = match turn {
                        0 => b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        1 => {
                            tokio::time::sleep(delay).await;
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                        }
                        _ => return,
                    };
                    let _ = socket.write_all(answer).await;
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn it_counts_how_each_request_ended_and_keeps_its_rate_when_answers_are_slow() {
        // Every answer that comes takes 400ms: one request at a time would send about 3 in
        // 1.2s; at 20/s the load sends about 24 whatever the latency.
        let url = mixed_server(Duration::from_millis(400)).await;
        let load = Load::start(
            LoadPlan {
                urls: vec![url],
                rate: 20.0,
                until: Duration::from_millis(1200),
            },
            over_http(),
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let counts = load.counts();
        assert!(counts.sent >= 15, "{counts:?}");
        // A third answered 500, a third closed without an answer (give or take the last
        // requests cut by the deadline, which count as sent only).
        let third = counts.sent / 3;
        assert!(counts.server_errors + 1 >= third, "{counts:?}");
        assert!(counts.unanswered + 1 >= third, "{counts:?}");
        assert!(counts.server_errors + counts.unanswered <= counts.sent);
        assert_eq!(Answer::of_status(503), Answer::ServerError);
        assert_eq!(Answer::of_status(404), Answer::Rejected);
        assert_eq!(Answer::of_status(401), Answer::Rejected);
        assert_eq!(Answer::of_status(101), Answer::Rejected);
        assert_eq!(Answer::of_status(204), Answer::Served);
        assert_eq!(Answer::of_status(302), Answer::Served);
    }

    #[tokio::test]
    async fn it_never_has_more_in_flight_than_its_sender_allows() {
        // Every third answer takes 400ms, the others come at once; with one request allowed
        // in flight, each slow answer swallows 8 ticks: about 7 of the 24 ticks send (all
        // 24 would without the bound, as the test above shows).
        let url = mixed_server(Duration::from_millis(400)).await;
        let one_at_a_time = Sender {
            most_in_flight: 1,
            ..over_http()
        };
        let load = Load::start(
            LoadPlan {
                urls: vec![url],
                rate: 20.0,
                until: Duration::from_millis(1200),
            },
            one_at_a_time,
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sent = load.counts().sent;
        assert!((1..=12).contains(&sent), "{sent} sent with one in flight");
    }
}
