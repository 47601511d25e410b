//! Synthetic traffic for a quiet environment's monitoring window, so its analysis has
//! requests to judge: `GET /` at a fixed rate, spread over the environment's own replicas
//! (their addresses as the target reaches them, nothing else), one request at a time with a
//! timeout, and bounded three ways: a total, a deadline of its own, and dropping the [`Load`]
//! (the window ended or the flow failed) stops it at once. How one request reaches a replica
//! is the target's ([`SendOne`]): plain HTTP to a published port on the local target
//! ([`over_http`]), the API server's pod proxy on Kubernetes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;

/// No window sends more than this, whatever its rate and length.
pub const MAX_REQUESTS: u64 = 100_000;

/// Sends one `GET /` to the replica at the given address; the answer only has to arrive
/// (the replica's own counters record it). Bounded in time by the sender.
pub type SendOne = Arc<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// Plain HTTP to `http://127.0.0.1:PORT` addresses, with a 2s timeout. A client that cannot
/// be built sends nothing: the window then stays quiet and the analysis says so.
pub fn over_http() -> SendOne {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .ok();
    Arc::new(move |base: String| {
        let client = client.clone();
        Box::pin(async move {
            if let Some(client) = client
                && let Ok(answer) = client.get(format!("{base}/")).send().await
            {
                let _ = answer.bytes().await;
            }
        })
    })
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

/// Running load; stops when dropped.
#[derive(Debug)]
pub struct Load {
    task: JoinHandle<()>,
    sent: Arc<AtomicU64>,
}

impl Load {
    /// Starts sending `plan`'s requests through `send`. Nothing is sent without URLs or a
    /// positive rate.
    pub fn start(plan: LoadPlan, send: SendOne) -> Self {
        let sent = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&sent);
        let task = tokio::spawn(async move { run(plan, send, counter).await });
        Self { task, sent }
    }

    /// Requests sent so far (answered or not).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(plan: LoadPlan, send: SendOne, sent: Arc<AtomicU64>) {
    let budget = plan.budget();
    if plan.urls.is_empty() || budget == 0 {
        return;
    }
    let deadline = tokio::time::Instant::now() + plan.until;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / plan.rate));
    // A slow replica lowers the rate rather than piling requests up behind it.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 0..budget {
        if tokio::time::timeout_at(deadline, ticks.tick())
            .await
            .is_err()
        {
            return;
        }
        let url = &plan.urls[(n as usize) % plan.urls.len()];
        sent.fetch_add(1, Ordering::Relaxed);
        let _ = tokio::time::timeout_at(deadline, send(url.clone())).await;
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
        assert_eq!(seen.load(Ordering::Relaxed), sent);
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
}
