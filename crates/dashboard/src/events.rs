//! Live updates: one task polls the pipeline (the branch tips and the replicas every round;
//! the GitOps reads, each lane's values and last change among them, again only when a tip
//! moved; the plans and figures then, at the next minute of the clock, or after
//! [`gather::REPLAN`]) and publishes the rendered `#board` fragment when it changed; every
//! open page receives it as a server-sent event.
//!
//! It polls only while someone looks: an open event stream, or a page served in the last
//! [`INTEREST`] (a page without script reloads itself every few seconds). With nobody looking
//! it reads once every [`IDLE_POLL`], and the next page asked for waits for a fresh read
//! ([`Interest::fresh`]), so an idle board costs next to nothing and never shows a stale one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use flow::Pipeline;
use futures_util::Stream;
use tokio::sync::{Notify, watch};

use crate::board::Board;
use crate::gather::{self, Reads};
use crate::view;

/// How often the pipeline is polled while someone looks.
pub const POLL: Duration = Duration::from_millis(500);
/// How often it is read with nobody looking.
pub const IDLE_POLL: Duration = Duration::from_secs(60);
/// How long a page served keeps the poller polling: past a page's own reload without script.
pub const INTEREST: Duration = Duration::from_secs(15);
/// How often an open stream with nothing new writes a comment, so that a stream whose client
/// left is noticed (the write fails) and closed rather than left half-open.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a page waits for a fresh read after the board was idle.
const FRESH_WAIT: Duration = Duration::from_secs(5);
/// A board read this long before a page is asked for is fresh enough to show at once: a
/// poller polling every [`POLL`] always has one.
const FRESH: Duration = Duration::from_secs(2);

/// Who is looking, as far as the poller cares: when a page was last served, a way to wake
/// an idle poller, and when its last finished round started.
#[derive(Debug)]
pub struct Interest {
    last_page: Mutex<Option<Instant>>,
    wake: Notify,
    read_at: watch::Sender<Instant>,
}

impl Default for Interest {
    fn default() -> Self {
        Self {
            last_page: Mutex::new(None),
            wake: Notify::new(),
            read_at: watch::Sender::new(Instant::now()),
        }
    }
}

impl Interest {
    /// Someone looks (a page, a stream opened): poll at full rate for [`INTEREST`] from now,
    /// which is returned.
    pub fn touch(&self) -> Instant {
        let now = Instant::now();
        if let Ok(mut last) = self.last_page.lock() {
            *last = Some(now);
        }
        self.wake.notify_one();
        now
    }

    /// Waits until the board shown was read at most [`FRESH`] before `touched`: at once while
    /// polling, else until the round the touch woke has finished, at most [`FRESH_WAIT`] (a
    /// slower read reaches the page through its stream when it lands).
    pub async fn fresh(&self, touched: Instant) {
        let mut read_at = self.read_at.subscribe();
        let deadline = tokio::time::Instant::from_std(touched + FRESH_WAIT);
        loop {
            if *read_at.borrow_and_update() + FRESH >= touched {
                return;
            }
            match tokio::time::timeout_at(deadline, read_at.changed()).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }

    fn wanted(&self, streams: usize) -> bool {
        streams > 0
            || self
                .last_page
                .lock()
                .ok()
                .and_then(|last| *last)
                .is_some_and(|at| at.elapsed() < INTEREST)
    }
}

/// What every request is answered from: the latest board, rendered.
#[derive(Debug)]
pub struct Published {
    /// Counts changes; the SSE event id.
    pub version: u64,
    pub board: Board,
    pub fragment: String,
    /// Why the latest poll failed, when it did (the board is then the last one read).
    pub error: Option<String>,
}

/// Reads the board once, so the first request has something to show.
pub async fn first(pipeline: &Pipeline) -> anyhow::Result<(Reads, Arc<Published>)> {
    let tips = gather::tips(pipeline).await?;
    let recorded = flow::status::recorded(pipeline, &[], None).await?;
    let mut reads = gather::read(pipeline, tips, recorded).await?;
    let board = gather::gather(pipeline, &mut reads).await?;
    let fragment = view::fragment(&board);
    Ok((
        reads,
        Arc::new(Published {
            version: 0,
            board,
            fragment,
            error: None,
        }),
    ))
}

/// Polls until every receiver is gone, publishing each changed board: every [`POLL`] while
/// someone looks, else every [`IDLE_POLL`] or when woken. `sender`'s receivers are the
/// server's own and one per open stream.
pub async fn poll(
    pipeline: Arc<Pipeline>,
    mut reads: Reads,
    sender: watch::Sender<Arc<Published>>,
    interest: Arc<Interest>,
) {
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let streams = sender.receiver_count().saturating_sub(1);
        if interest.wanted(streams) {
            ticker.tick().await;
        } else {
            tokio::select! {
                () = interest.wake.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
            ticker.reset();
        }
        if sender.is_closed() {
            return;
        }
        let started = Instant::now();
        if let Err(err) = round(&pipeline, &mut reads, &sender).await {
            let error = format!("{err:#}");
            tracing::warn!(%error, "dashboard poll failed; showing the last board");
            let latest = sender.borrow().clone();
            if latest.error.as_deref() != Some(error.as_str()) {
                let _ = sender.send(Arc::new(Published {
                    version: latest.version + 1,
                    board: latest.board.clone(),
                    fragment: latest.fragment.clone(),
                    error: Some(error),
                }));
            }
        }
        interest.read_at.send_replace(started);
    }
}

/// One poll. When a branch moved, the lanes and timeline are published before the snapshot
/// is read again for the plans, so a change reaches open pages without waiting for that.
async fn round(
    pipeline: &Pipeline,
    reads: &mut Reads,
    sender: &watch::Sender<Arc<Published>>,
) -> anyhow::Result<()> {
    let tips = gather::tips(pipeline).await?;
    if tips != reads.tips {
        // What each lane records is read back only to the tip read before.
        let recorded = flow::status::recorded(pipeline, &[], Some(&reads.recorded)).await?;
        let previous = sender.borrow().board.clone();
        publish(sender, gather::early(pipeline, &previous, &recorded).await?);
        *reads = gather::read(pipeline, tips, recorded).await?;
    }
    publish(sender, gather::gather(pipeline, reads).await?);
    Ok(())
}

/// Sends `board` to every open page, unless it looks the same as the last one sent.
fn publish(sender: &watch::Sender<Arc<Published>>, board: Board) {
    let latest = sender.borrow().clone();
    let fragment = view::fragment(&board);
    if fragment == latest.fragment && latest.error.is_none() {
        return;
    }
    let _ = sender.send(Arc::new(Published {
        version: latest.version + 1,
        board,
        fragment,
        error: None,
    }));
}

/// One server-sent event carrying `published`'s fragment (each line its own `data:` field,
/// which the browser joins with newlines).
pub fn event(published: &Published) -> Bytes {
    let mut out = format!("event: board\nid: {}\n", published.version);
    let body = view::alert(published.error.as_deref()) + &published.fragment;
    for line in body.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// The event stream of one open page: the current board at once, then every change, and a
/// comment every [`HEARTBEAT`] without one (its write failing is how a client that left is
/// noticed: the server then drops the stream and closes the connection).
pub fn stream(
    receiver: watch::Receiver<Arc<Published>>,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
    futures_util::stream::unfold((receiver, true), |(mut receiver, first)| async move {
        if !first {
            tokio::select! {
                changed = receiver.changed() => changed.ok()?,
                () = tokio::time::sleep(HEARTBEAT) => {
                    return Some((Ok(Bytes::from_static(b": still here\n\n")), (receiver, false)));
                }
            }
        }
        let published = receiver.borrow_and_update().clone();
        Some((Ok(event(&published)), (receiver, false)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn the_poller_polls_while_a_stream_is_open_or_a_page_was_just_served() {
        let interest = Interest::default();
        assert!(!interest.wanted(0), "nobody has looked yet");
        assert!(interest.wanted(1), "an open stream");
        interest.touch();
        assert!(interest.wanted(0), "a page just served");
        *interest.last_page.lock().expect("lock") = Some(Instant::now() - INTEREST);
        assert!(!interest.wanted(0), "a page served long ago");
    }

    #[tokio::test]
    async fn a_page_after_idle_waits_for_the_read_its_visit_woke_and_not_otherwise() {
        let interest = Arc::new(Interest::default());
        // Polling: the last round started a moment ago; the page is served at once.
        let touched = interest.touch();
        let started = Instant::now();
        interest.fresh(touched).await;
        assert!(started.elapsed() < Duration::from_millis(100));

        // Idle: the last read is a minute old. A stand-in poller wakes on the touch and
        // finishes a round 200 ms later; the page waits for it.
        interest
            .read_at
            .send_replace(Instant::now() - Duration::from_secs(60));
        let poller = {
            let interest = Arc::clone(&interest);
            tokio::spawn(async move {
                interest.wake.notified().await;
                let round = Instant::now();
                tokio::time::sleep(Duration::from_millis(200)).await;
                interest.read_at.send_replace(round);
            })
        };
        tokio::task::yield_now().await;
        let touched = interest.touch();
        interest.fresh(touched).await;
        assert!(
            touched.elapsed() >= Duration::from_millis(200),
            "served before the read it woke"
        );
        assert!(*interest.read_at.borrow() + FRESH >= touched);
        poller.await.expect("poller");
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_stream_with_nothing_new_writes_a_heartbeat() {
        let published = Arc::new(Published {
            version: 1,
            board: Board {
                target: "local".to_owned(),
                gitops_url: String::new(),
                tip: String::new(),
                lanes: Vec::new(),
                moves: Vec::new(),
                releases: Vec::new(),
                timeline: Vec::new(),
                scans: Vec::new(),
                replanning: false,
                delivery: None,
            },
            fragment: "<p>board</p>".to_owned(),
            error: None,
        });
        let (_sender, receiver) = watch::channel(published);
        let mut events = Box::pin(stream(receiver));
        let first = events.next().await.expect("the board").expect("bytes");
        assert!(String::from_utf8_lossy(&first).contains("data: <p>board</p>"));
        // Nothing changes: after HEARTBEAT (time paused, so at once) a comment, which a
        // browser ignores and which fails on a connection whose client left.
        let next = events.next().await.expect("a heartbeat").expect("bytes");
        assert_eq!(&next[..], b": still here\n\n");
    }
}
