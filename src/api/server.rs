//! The HTTP/1.1 server under the router: accepts connections, bounds how long a client may
//! take to send its request head, and drains open connections on shutdown.
//!
//! `axum::serve` installs no timer, so hyper's header-read timeout never fires there and a
//! client that opens a connection and sends nothing, or half a request head, holds it (and
//! its task) for ever. Here hyper's timer runs: a connection must bring a whole request
//! head within [`HEADER_READ_TIMEOUT`] of opening (hyper starts reading, and the timer, at
//! once), and an idle keep-alive connection is closed by the same rule. Request bodies and
//! handlers are bounded by the router's own timeout; writing an answer to a client that
//! stops reading it, by [`WRITE_STALL`] (see [`StallGuard`]).

mod stall;

use stall::StallGuard;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;
use tower::util::MapRequest;

/// How long a client may take to send a request head (and to start one on a new or idle
/// connection).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an answer may wait on a client that reads none of it before the connection is
/// closed (and the answer's memory freed).
/// (A socket reports room again only once a third of its send buffer is free: with a
/// buffer of megabytes, a client reading at a few hundred kbit/s waits tens of seconds
/// between writes, which is no stall.)
pub const WRITE_STALL: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until `shutdown` completes; then closes the listener (new
/// connections are refused, not left waiting), lets each connection finish the request it
/// is serving, and returns when all are closed or after `drain`, whichever comes first: a
/// client that stops reading its answer does not hold the process for ever.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> io::Result<()> {
    // Each connection holds a receiver: a send tells them to stop, and the channel closes
    // when the last one is done.
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "Accepting an API connection failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "Could not set TCP_NODELAY on an API connection.");
        }
        // The client's address goes with each request (the wrong-token lockout counts by it).
        let service =
            TowerToHyperService::new(app.clone().map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            }));
        tokio::spawn(connection(stream, service, stop_rx.clone()));
    }
    drop(listener);
    drop(stop_rx);
    stop_tx.send_replace(());
    if tokio::time::timeout(drain, stop_tx.closed()).await.is_err() {
        tracing::warn!(
            open = stop_tx.receiver_count(),
            "API connections still busy {:.0} s after the stop (clients not reading their \
             answers): closing them.",
            drain.as_secs_f64()
        );
    }
    Ok(())
}

/// One connection: HTTP/1.1 until the client closes, a request head is late, or the server
/// stops (then the request being served is finished first).
async fn connection<F>(
    stream: TcpStream,
    service: TowerToHyperService<MapRequest<Router, F>>,
    mut stop: watch::Receiver<()>,
) where
    F: FnMut(Request<Incoming>) -> Request<Incoming> + Clone + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(StallGuard::new(stream, WRITE_STALL)), service);
    let mut conn = pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::trace!(error = %e, "An API connection ended with an error.");
    }
}
