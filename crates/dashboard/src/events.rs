//! Live updates: one task polls the pipeline (the branch tips every round, the GitOps reads
//! again only when a tip moved; status and plans every round) and publishes the rendered
//! `#board` fragment when it changed; every open page receives it as a server-sent event.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use flow::Pipeline;
use futures_util::Stream;
use tokio::sync::watch;

use crate::board::Board;
use crate::gather::{self, Reads};
use crate::view;

/// How often the pipeline is polled.
pub const POLL: Duration = Duration::from_millis(500);

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
    let reads = gather::read(pipeline, tips).await?;
    let board = gather::gather(pipeline, &reads).await?;
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

/// Polls until every receiver is gone, publishing each changed board.
pub async fn poll(
    pipeline: Arc<Pipeline>,
    mut reads: Reads,
    sender: watch::Sender<Arc<Published>>,
) {
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if sender.is_closed() {
            return;
        }
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
        let previous = sender.borrow().board.clone();
        publish(sender, gather::early(pipeline, &previous).await?);
        *reads = gather::read(pipeline, tips).await?;
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

/// The event stream of one open page: the current board at once, then every change.
pub fn stream(
    receiver: watch::Receiver<Arc<Published>>,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
    futures_util::stream::unfold((receiver, true), |(mut receiver, first)| async move {
        if !first && receiver.changed().await.is_err() {
            return None;
        }
        let published = receiver.borrow_and_update().clone();
        Some((Ok(event(&published)), (receiver, false)))
    })
}
